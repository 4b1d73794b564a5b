"""Re-importing a roster after the programme has talked to the families: contacts are kept, not re-created."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.people import emergency_contacts
from carevisit.escalation.engine import add_outbox_row
from carevisit.escalation.targets import contact_targets_by_elder
from carevisit.storage.enums import Channel
from carevisit.storage.models import EmergencyContact, OutboxMessage
from tests.roster.conftest import Importer
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv
from tests.roster.queries import elder


async def _message(session: AsyncSession, clock: FakeClock, contact: EmergencyContact, key: str) -> OutboxMessage:
    """A family visit report queued to the contact, as escalation.family queues it."""
    row = OutboxMessage(
        idempotency_key=key, purpose="family_report", contact_id=contact.id, channel=Channel.SMS,
        to_address=contact.phone, body="【探访关爱】……", not_before=clock.now(), created_at=clock.now(),
    )  # fmt: skip
    assert await add_outbox_row(session, row)
    await session.commit()
    return row


async def test_a_contact_that_was_messaged_survives_a_reimport(
    importer: Importer, session: AsyncSession, tmp_path: Path, clock: FakeClock
) -> None:
    path = write_csv(tmp_path / "v1.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    assert (await importer.elders(path)).written
    first = await elder(session, "E1")
    [son] = await emergency_contacts(session, elder_id=first.id or 0)
    message = await _message(session, clock, son, "family:1")

    # The same roster again, the son's name corrected and a second contact added in front of him.
    row = elder_row("E1", contact1_name="王芳", contact1_relation="女儿", contact1_phone="13912340001",
                    contact2_name="李建国（长子）", contact2_relation="儿子", contact2_phone="13912345678")  # fmt: skip
    result = await importer.elders(write_csv(tmp_path / "v2.csv", ELDER_HEADER_ZH, [row]))

    assert result.ok and result.written, result.problems
    session.expunge_all()
    daughter, son_again = await emergency_contacts(session, elder_id=first.id or 0)
    assert son_again.id == son.id, "the same row, updated in place"
    assert (son_again.position, son_again.name, son_again.relation) == (2, "李建国（长子）", "儿子")
    assert (daughter.position, daughter.name) == (1, "王芳")
    stored = await session.get(OutboxMessage, message.id)
    assert stored is not None and stored.contact_id == son.id, "the message still names its contact"


async def test_a_contact_no_longer_listed_goes_but_one_that_was_messaged_is_kept_as_history(
    importer: Importer, session: AsyncSession, tmp_path: Path, clock: FakeClock
) -> None:
    two = elder_row("E1", contact2_name="王芳", contact2_relation="女儿", contact2_phone="13912340001")
    await importer.elders(write_csv(tmp_path / "v1.csv", ELDER_HEADER_ZH, [two]))
    first = await elder(session, "E1")
    son, daughter = await emergency_contacts(session, elder_id=first.id or 0)
    page = await _message(session, clock, son, "page:1")

    # Neither is listed now: a neighbour instead.
    row = elder_row("E1", contact1_name="赵大妈", contact1_relation="邻居", contact1_phone="13600136000")
    result = await importer.elders(write_csv(tmp_path / "v2.csv", ELDER_HEADER_ZH, [row]))

    assert result.ok and result.written, result.problems
    session.expunge_all()
    [neighbour] = await emergency_contacts(session, elder_id=first.id or 0)
    assert (neighbour.position, neighbour.name) == (1, "赵大妈")
    targets = await contact_targets_by_elder(session, elder_ids=[first.id or 0])
    assert [t.phone for t in targets[first.id or 0]] == ["+8613600136000"], "only listed contacts are paged"
    phones = (await session.exec(select(EmergencyContact.phone))).all()
    assert daughter.phone not in phones, "never messaged: simply gone"
    kept = await session.get(EmergencyContact, son.id)
    assert kept is not None and kept.removed_at == clock.now(), "messaged: kept for the page's history"
    assert (await session.get(OutboxMessage, page.id)).contact_id == son.id  # type: ignore[union-attr]

    # Listed again later: the same row comes back.
    back = elder_row("E1", contact2_name="李建国", contact2_relation="儿子", contact2_phone="13912345678",
                     contact1_name="赵大妈", contact1_relation="邻居", contact1_phone="13600136000")  # fmt: skip
    assert (await importer.elders(write_csv(tmp_path / "v3.csv", ELDER_HEADER_ZH, [back]))).written
    session.expunge_all()
    listed = await emergency_contacts(session, elder_id=first.id or 0)
    assert [(c.position, c.id, c.removed_at) for c in listed] == [(1, neighbour.id, None), (2, son.id, None)]
    assert len((await session.exec(select(EmergencyContact))).all()) == 2


async def test_family_reports_are_switched_on_and_off_from_the_roster(
    importer: Importer, session: AsyncSession, tmp_path: Path, clock: FakeClock
) -> None:
    header = [*ELDER_HEADER_ZH, "短信通知1", "短信通知2"]
    two = [*elder_row("E1", contact2_name="王芳", contact2_relation="女儿", contact2_phone="13912340001"), "是", "否"]
    result = await importer.elders(write_csv(tmp_path / "v1.csv", header, [two]))
    assert result.ok, result.problems
    first = await elder(session, "E1")
    son, daughter = await emergency_contacts(session, elder_id=first.id or 0)
    assert (son.sms_opt_in, daughter.sms_opt_in) == (True, False)

    # The son replied 退订 since; a re-import saying 否 for him and leaving her empty.
    son.opted_out_at = clock.now()
    session.add(son)
    await session.commit()
    again = [*two[:-2], "否", ""]
    assert (await importer.elders(write_csv(tmp_path / "v2.csv", header, [again]))).written
    session.expunge_all()
    son, daughter = await emergency_contacts(session, elder_id=first.id or 0)
    assert (son.sms_opt_in, son.opted_out_at) == (False, clock.now()), "the opt-out is kept"
    assert daughter.sms_opt_in is False, "empty: left as it was"
    back = [*two[:-2], "", "是"]
    assert (await importer.elders(write_csv(tmp_path / "v3.csv", header, [back]))).written
    session.expunge_all()
    son, daughter = await emergency_contacts(session, elder_id=first.id or 0)
    assert (son.sms_opt_in, daughter.sms_opt_in) == (False, True)


async def test_an_sms_column_in_english_and_a_bad_answer(importer: Importer, tmp_path: Path) -> None:
    from tests.roster.files import ELDER_HEADER_EN

    bad = await importer.elders(
        write_csv(tmp_path / "e.csv", [*ELDER_HEADER_EN, "contact1_sms"], [[*elder_row(), "x"]])
    )
    assert [(p.column, p.reason) for p in bad.problems] == [("contact1_sms", "must be 是/否 or yes/no, not 'x'")]
    assert bad.problems[0].position == len(ELDER_HEADER_EN)
