"""Confirming, reporting and raising emergencies through the services both the bot and the volunteer app call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.callbacks import IncidentAction, IncidentCb
from carevisit.care.clock import FakeClock
from carevisit.care.confirmations import CONCERN, OK, ElderNotServed, VisitNotYours
from carevisit.fieldwork import notices, problems, visits
from carevisit.fieldwork.context import FieldContext
from carevisit.fieldwork.emergencies import raise_emergency
from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import AuditEntry, ChatOutboxMessage, Incident, Problem, Visit
from tests.fieldwork.conftest import TELEGRAM_CHAT, VIEWER_CHAT, WECOM_USERID, Field


async def _outbox(session: AsyncSession) -> list[ChatOutboxMessage]:
    return list((await session.exec(select(ChatOutboxMessage).order_by(ChatOutboxMessage.id))).all())


async def _reread(session: AsyncSession, visit: Visit) -> Visit:
    await session.refresh(visit)
    return visit


async def test_a_visit_is_confirmed_once_with_its_audit_entry(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    done = await visits.confirm(
        session,
        ctx,
        volunteer=field.volunteer,
        visit_id=field.visit.id,
        mode=VisitMode.PHONE,
        outcome=VisitOutcome.WELL,
    )
    await session.commit()
    assert not done.confirmation.already_done and done.raised is None
    visit = await _reread(session, field.visit)
    assert (visit.status, visit.done_mode, visit.done_by_volunteer_id) == (
        VisitStatus.DONE,
        VisitMode.PHONE,
        field.volunteer.id,
    )
    audit = (await session.exec(select(AuditEntry).where(AuditEntry.action == "visit.confirm"))).all()
    assert [(a.actor, a.entity_id) for a in audit] == [(f"volunteer:{field.volunteer.id}", field.visit.id)]


async def test_a_second_confirmation_changes_nothing(session: AsyncSession, ctx: FieldContext, field: Field) -> None:
    await visits.confirm(
        session, ctx, volunteer=field.volunteer, visit_id=field.visit.id, mode=VisitMode.HOME, outcome=VisitOutcome.WELL
    )
    await session.commit()
    again = await visits.confirm(
        session,
        ctx,
        volunteer=field.volunteer,
        visit_id=field.visit.id,
        mode=VisitMode.PHONE,
        outcome=VisitOutcome.URGENT,
    )
    await session.commit()
    assert again.confirmation.already_done and again.raised is None
    assert (await _reread(session, field.visit)).done_mode == VisitMode.HOME
    assert (await session.exec(select(Incident))).all() == []
    assert len((await session.exec(select(AuditEntry).where(AuditEntry.action == "visit.confirm"))).all()) == 1


async def test_another_volunteers_visit_is_refused(session: AsyncSession, ctx: FieldContext, field: Field) -> None:
    with pytest.raises(VisitNotYours):
        await visits.confirm(
            session,
            ctx,
            volunteer=field.volunteer,
            visit_id=field.other_visit.id,
            mode=VisitMode.HOME,
            outcome=VisitOutcome.WELL,
        )
    await session.rollback()
    assert (await _reread(session, field.other_visit)).status == VisitStatus.PLANNED


async def test_all_fine_answers_every_question_ok_and_files_nothing(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    done = await visits.confirm(
        session,
        ctx,
        volunteer=field.volunteer,
        visit_id=field.visit.id,
        mode=VisitMode.HOME,
        outcome=VisitOutcome.WELL,
        all_fine=True,
    )
    await session.commit()
    assert done.confirmation.problems == []
    assert (await _reread(session, field.visit)).checklist == {item.key: OK for item in ctx.checklist}
    assert (await session.exec(select(Problem))).all() == []
    assert await _outbox(session) == []


async def test_a_concern_files_a_problem_and_tells_each_coordinator_on_their_channel(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    done = await visits.confirm(
        session,
        ctx,
        volunteer=field.volunteer,
        visit_id=field.visit.id,
        mode=VisitMode.HOME,
        outcome=VisitOutcome.WELL,
        answers={"family": CONCERN, "health": OK},
    )
    await session.commit()
    (problem,) = done.confirmation.problems
    assert problem.category == ProblemCategory.CARER_OBLIGATION and problem.visit_id == field.visit.id
    rows = await _outbox(session)
    by_recipient = {(row.channel, row.recipient): row for row in rows}
    assert set(by_recipient) == {
        ("telegram", str(TELEGRAM_CHAT)),
        ("wecom", WECOM_USERID),
        ("telegram", str(VIEWER_CHAT)),
    }  # not the coordinator of another street
    assert by_recipient[("telegram", str(TELEGRAM_CHAT))].text == (
        "New problem for 陈&lt;奶奶&gt;: Carer not meeting obligations."  # in the coordinator's own language
    )
    assert by_recipient[("wecom", WECOM_USERID)].text == "陈&lt;奶奶&gt;有新问题：赡养人未尽义务。"
    assert all(row.idempotency_key.startswith(f"problem:{problem.id}:new:coordinator:") for row in rows)


async def test_an_urgent_outcome_opens_one_incident_and_an_urgent_report_joins_it(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    done = await visits.confirm(
        session,
        ctx,
        volunteer=field.volunteer,
        visit_id=field.visit.id,
        mode=VisitMode.HOME,
        outcome=VisitOutcome.URGENT,
    )
    await session.commit()
    assert done.raised is not None and not done.raised.joined
    assert [c.name for c in done.raised.contacts] == ["陈女儿"]
    incident = (await session.exec(select(Incident))).one()
    assert (incident.visit_id, incident.reporter_volunteer_id) == (field.visit.id, field.volunteer.id)

    reported = await problems.report(
        session,
        ctx,
        volunteer=field.volunteer,
        elder_id=field.elder.id,
        category=ProblemCategory.HEALTH,
        description="又摔倒了",
        urgent=True,
    )
    await session.commit()
    assert reported.raised is not None and reported.raised.joined
    assert reported.raised.incident.id == incident.id
    assert len((await session.exec(select(Incident))).all()) == 1
    told = [row for row in await _outbox(session) if row.idempotency_key.startswith("incident:")]
    assert len(told) == 3  # once per coordinator over the elder, not again when joined


async def test_the_incident_notice_asks_coordinators_to_acknowledge_and_only_tells_viewers(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    raised = await raise_emergency(session, ctx, volunteer=field.volunteer, elder=field.elder)
    await session.commit()
    incident_id = raised.incident.id
    assert incident_id is not None
    rows = {row.recipient: row for row in await _outbox(session)}
    acting = rows[str(TELEGRAM_CHAT)]
    assert acting.buttons == [[{"text": "Acknowledge", "callback_data": notices.ack_data(incident_id)}]]
    assert acting.link == f"https://care.example.cn/incidents/{incident_id}"
    assert "陈&lt;奶奶&gt;" in acting.text and "科技园路1号 &amp; 2栋" in acting.text
    assert rows[WECOM_USERID].buttons == [[{"text": "确认处理", "callback_data": notices.ack_data(incident_id)}]]
    viewer = rows[str(VIEWER_CHAT)]
    assert viewer.buttons is None and "特此告知" in viewer.text
    assert rows.keys() == {str(TELEGRAM_CHAT), WECOM_USERID, str(VIEWER_CHAT)}
    keys = {row.idempotency_key for row in rows.values()}
    assert f"incident:{incident_id}:new:coordinator:{field.on_wecom.id}" in keys


async def test_an_urgent_infectious_report_opens_an_infectious_incident(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    reported = await problems.report(
        session,
        ctx,
        volunteer=field.volunteer,
        elder_id=field.elder.id,
        category=ProblemCategory.INFECTIOUS,
        description="发烧咳嗽",
        urgent=True,
        visit_id=field.visit.id,
        attachments=[{"kind": "photo", "file_id": "fever"}],
    )
    await session.commit()
    assert reported.raised is not None
    incident = (await session.exec(select(Incident))).one()
    assert (incident.kind, incident.problem_id, incident.visit_id) == (
        "infectious",
        reported.problem.id,
        field.visit.id,
    )
    assert reported.problem.attachments == [{"kind": "photo", "file_id": "fever"}]


async def test_a_report_about_an_elder_not_served_or_on_another_volunteers_visit_is_refused(
    session: AsyncSession, ctx: FieldContext, field: Field
) -> None:
    with pytest.raises(ElderNotServed):
        await problems.report(
            session,
            ctx,
            volunteer=field.volunteer,
            elder_id=field.stranger_elder.id,
            category=ProblemCategory.OTHER,
            description="x",
            urgent=True,
        )
    with pytest.raises(VisitNotYours):
        await problems.report(
            session,
            ctx,
            volunteer=field.volunteer,
            elder_id=field.elder.id,
            category=ProblemCategory.OTHER,
            description="x",
            urgent=False,
            visit_id=field.other_visit.id,
        )
    await session.rollback()
    assert (await session.exec(select(Problem))).all() == []
    assert (await session.exec(select(Incident))).all() == []


@pytest.mark.parametrize("incident_id", [1, 42, 987654321])
def test_ack_data_is_the_bots_acknowledge_button_and_reads_back(incident_id: int) -> None:
    data = notices.ack_data(incident_id)
    assert data == IncidentCb(action=IncidentAction.ACK, incident_id=incident_id).pack()
    assert notices.incident_of_ack(data) == incident_id


@pytest.mark.parametrize("data", ["", "i:a:", "i:a:x", "i:n:5", "i:a:5:6", "i:a:-5", "i:a:05", "c:5", " i:a:5"])
def test_anything_else_is_not_an_acknowledgement(data: str) -> None:
    assert notices.incident_of_ack(data) is None


async def test_the_visit_just_confirmed_is_known_for_a_while_from_the_visits_themselves(
    session: AsyncSession, ctx: FieldContext, field: Field, clock: FakeClock
) -> None:
    within = timedelta(minutes=10)
    assert await visits.just_confirmed(session, ctx, volunteer=field.volunteer, within=within) is None
    await visits.confirm(
        session, ctx, volunteer=field.volunteer, visit_id=field.visit.id, mode=VisitMode.HOME, outcome=VisitOutcome.WELL
    )
    await session.commit()
    clock.advance(timedelta(minutes=9))
    found = await visits.just_confirmed(session, ctx, volunteer=field.volunteer, within=within)
    assert found is not None and found.id == field.visit.id
    assert await visits.just_confirmed(session, ctx, volunteer=field.other_volunteer, within=within) is None
    clock.advance(timedelta(minutes=2))
    assert await visits.just_confirmed(session, ctx, volunteer=field.volunteer, within=within) is None
