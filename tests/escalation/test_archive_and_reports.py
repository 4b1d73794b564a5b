"""The archive (timeline, exports), family visit reports, and the policy file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.confirmations import confirm_visit
from carevisit.escalation import incidents, timeline
from carevisit.escalation.config_file import PolicyFileError, load_config
from carevisit.escalation.family import queue_family_reports
from carevisit.storage.enums import Channel, PhoneKind, ProblemCategory, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import EmergencyContact
from tests.escalation.conftest import CONTACT1, World
from tests.factories import make_visit

SHIPPED = Path(__file__).parents[2] / "config" / "escalation_policy.toml"


async def test_the_timeline_tells_the_whole_story_and_exports(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [sms] = world.twilio.sms_to(CONTACT1)
    world.clock.advance(timedelta(seconds=20))
    await world.twilio.set_status(sms.sid, "delivered")
    world.clock.advance(timedelta(minutes=1))
    await world.twilio.inbound_sms(CONTACT1, "1")
    world.clock.advance(timedelta(hours=2))
    async with world.sessions() as session:
        await incidents.resolve(
            session,
            clock=world.clock,
            incident_id=incident_id,
            by=f"volunteer:{world.volunteer_id}",
            what_happened="跌倒",
            actions_taken="拨打120",
            outcome="已送医",
        )
        await session.commit()
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    whats = [e.what for e in entries]
    assert whats[0] == "opened" and "acknowledged" in whats and whats[-1] == "resolved"
    assert any(e.what == "status delivered" and e.sid == sms.sid for e in entries)
    assert any(e.what == "acknowledged" and "李娜" in e.who and e.channel == "sms" for e in entries)
    assert any(e.what == "note" and "已送医" in e.detail for e in entries)
    assert all(CONTACT1 not in e.detail for e in entries)  # numbers masked
    exported = json.loads(timeline.as_json(entries))
    assert len(exported) == len(entries)
    assert timeline.as_csv(entries).splitlines()[0] == "at,what,who,channel,detail,sid"


async def test_family_reports_go_to_opted_in_mobiles_once_per_visit(
    world: World, session: AsyncSession, clock: FakeClock, world_data: dict
) -> None:
    first = await session.get(EmergencyContact, world.contacts[0].id)
    assert first is not None
    first.sms_opt_in = True
    await session.commit()
    await make_visit(
        session,
        clock,
        elder=world_data["elder"],
        status=VisitStatus.DONE,
        done_at=clock.now(),
        done_by_volunteer_id=world.volunteer_id,
        outcome=VisitOutcome.WELL,
    )
    await session.commit()
    for _ in range(2):
        async with world.sessions() as s:
            await queue_family_reports(s, clock=clock, mode="each_visit", zone=world.esc.zone, language="zh_CN")
            await s.commit()
    await world.tick(seconds=1)
    [report] = world.twilio.sms_to(CONTACT1)
    assert "张伟" in (report.body or "") and "良好" in (report.body or "")
    assert world.twilio.sms_to(world.contacts[1].phone) == []


async def test_a_well_visit_whose_checklist_found_a_hazard_reports_the_problem_without_saying_what(
    world: World, session: AsyncSession, clock: FakeClock, world_data: dict
) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.sms_opt_in = True
    visit = await make_visit(session, clock, elder=world_data["elder"], volunteer_id=world.volunteer_id)
    await session.commit()
    confirmed = await confirm_visit(
        session,
        clock=clock,
        zone=world.esc.zone,
        visit_id=visit.id or 0,
        volunteer_id=world.volunteer_id,
        mode=VisitMode.HOME,
        outcome=VisitOutcome.WELL,
        answers={"health": "ok", "home_safety": "concern"},
    )
    await session.commit()
    assert [p.category for p in confirmed.problems] == [ProblemCategory.HOME_SAFETY]  # in the referral queue
    async with world.sessions() as s:
        await queue_family_reports(s, clock=clock, mode="each_visit", zone=world.esc.zone, language="zh_CN")
        await s.commit()
    [row] = await world.outbox(purpose="family_report")
    assert row.notice_kind == "visit_report"
    assert row.notice_params and row.notice_params["finding"] == "发现问题，社区已跟进"
    await world.tick(seconds=1)
    [report] = world.twilio.sms_to(CONTACT1)
    assert "发现问题，社区已跟进" in (report.body or "") and "良好" not in (report.body or "")
    assert "安全" not in (report.body or "") and "隐患" not in (report.body or "")  # no details by SMS


async def test_monthly_digest_instead_of_per_visit(
    world: World, session: AsyncSession, clock: FakeClock, world_data: dict
) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.sms_opt_in = True
    await session.commit()
    await make_visit(session, clock, elder=world_data["elder"], status=VisitStatus.DONE, done_at=clock.now())
    await session.commit()
    clock.advance(timedelta(days=25))  # into April
    async with world.sessions() as s:
        queued = await queue_family_reports(s, clock=clock, mode="monthly", zone=world.esc.zone, language="zh_CN")
        await s.commit()
    assert queued == 1
    [row] = await world.outbox(purpose="family_report")
    assert row.channel == Channel.SMS and "3月" in row.body and "1次" in row.body


async def test_the_monthly_digest_waits_until_the_month_is_final(
    world: World, session: AsyncSession, clock: FakeClock, world_data: dict
) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.sms_opt_in = True
    await make_visit(session, clock, elder=world_data["elder"], status=VisitStatus.DONE, done_at=clock.now())
    late = await make_visit(session, clock, elder=world_data["elder"], slot=2, volunteer_id=world.volunteer_id)
    await session.commit()

    async def queue() -> int:
        async with world.sessions() as s:
            queued = await queue_family_reports(s, clock=clock, mode="monthly", zone=world.esc.zone, language="zh_CN")
            await s.commit()
        return queued

    clock.set(datetime(2026, 4, 1, 8, 0, tzinfo=world.esc.zone))  # March's last visit is confirmed in the grace day
    assert await queue() == 0
    late.status, late.done_at = VisitStatus.DONE, clock.now()
    session.add(late)
    await session.commit()
    clock.set(datetime(2026, 4, 1, 23, 59, tzinfo=world.esc.zone))
    assert await queue() == 0
    clock.set(datetime(2026, 4, 2, 0, 0, tzinfo=world.esc.zone))  # March is final
    assert await queue() == 1
    [row] = await world.outbox(purpose="family_report")
    assert "3月" in row.body and "2次" in row.body and "04-01" in row.body


def test_the_shipped_policy_file_loads() -> None:
    config = load_config(SHIPPED)
    assert [s.target for s in config.policy.steps] == ["contact:1", "contact:2", "contact:3", "coordinators"]
    assert config.policy.steps[0].wait == timedelta(minutes=5)
    assert config.throttle.sms_per_number > 0 and config.family_reports == "each_visit"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("repeat_every_minutes = 15\n", "at least one"),
        ('[[steps]]\ntarget = "neighbour"\nchannels = ["sms"]\nwait_minutes = 5\n', "target"),
        ('[[steps]]\ntarget = "contact:1"\nchannels = ["fax"]\nwait_minutes = 5\n', "channels"),
        ('[[steps]]\ntarget = "contact:1"\nchannels = ["sms"]\nwait_minutes = 0\n', "positive"),
        ("not toml ][", "TOML"),
    ],
)
def test_a_bad_policy_file_is_refused_with_the_reason(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyFileError, match=problem):
        load_config(path)


async def test_a_contact_without_sms_is_not_sent_family_reports(
    world: World, session: AsyncSession, clock: FakeClock, world_data: dict
) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.sms_opt_in, contact.phone_kind = True, PhoneKind.FIXED_LINE
    await session.commit()
    await make_visit(session, clock, elder=world_data["elder"], status=VisitStatus.DONE, done_at=clock.now())
    await session.commit()
    async with world.sessions() as s:
        assert await queue_family_reports(s, clock=clock, mode="each_visit", zone=world.esc.zone, language="zh_CN") == 0
