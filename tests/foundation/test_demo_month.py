"""The demo's month so far, as a coordinator opening the dashboard on the 10th sees it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.visit_rate import visit_rate
from carevisit.demo_activity import play_month_so_far
from carevisit.demo_data import seed_demo
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.policies import visit_policy
from carevisit.storage.enums import AreaLevel, IncidentStatus, VisitStatus
from carevisit.storage.models import Area, Elder, EmergencyContact, Incident, IncidentNote, Problem, Visit, Volunteer
from tests.conftest import SHANGHAI


async def test_the_demo_month_is_under_way_not_finished(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with session_factory() as session:
        await seed_demo(session, clock=clock)
        await session.commit()

    played = await play_month_so_far(
        session_factory, clock=clock, zone=SHANGHAI, visit_policy=visit_policy(None), escalation_policy=DEFAULT_POLICY
    )

    async with session_factory() as session:
        district = (await session.exec(select(Area).where(Area.level == AreaLevel.DISTRICT))).one()
        rate = await visit_rate(session, month="2026-03", area=district)
        done = (await session.exec(select(Visit).where(col(Visit.status) == VisitStatus.DONE))).all()
        problems = (await session.exec(select(Problem))).all()
        incident = (await session.exec(select(Incident))).one()
        notes = (await session.exec(select(IncidentNote).where(IncidentNote.incident_id == incident.id))).all()

    assert played.plan.visits_created > 0 and played.confirmed == len(done) > 0
    assert 0 < rate.visited < rate.eligible  # on its way to 100%, with work left for the rest of the month
    # Every confirmation happened inside its visit's window and not in the future.
    for visit in done:
        assert visit.done_at is not None and visit.done_at <= clock.now()
        assert visit.window_start <= visit.done_at.astimezone(SHANGHAI).date() <= visit.window_end
    assert len(problems) == played.problems > 0
    assert incident.status == IncidentStatus.RESOLVED and incident.acknowledged_at is not None
    assert incident.resolved_at is not None
    assert incident.opened_at <= incident.acknowledged_at <= incident.resolved_at <= clock.now()
    assert any(note.outcome for note in notes)


async def test_early_on_the_second_the_seeded_emergency_lies_wholly_in_the_past(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # The trial's demo: started at 06:25 on 2 December, when the only confirmations were moments old.
    early = FakeClock(datetime(2026, 12, 2, 6, 25, tzinfo=SHANGHAI))
    async with session_factory() as session:
        await seed_demo(session, clock=early)
        await session.commit()

    await play_month_so_far(
        session_factory, clock=early, zone=SHANGHAI, visit_policy=visit_policy(None), escalation_policy=DEFAULT_POLICY
    )

    async with session_factory() as session:
        incident = (await session.exec(select(Incident))).one()
        notes = (await session.exec(select(IncidentNote).where(IncidentNote.incident_id == incident.id))).all()
    moments = [incident.opened_at, incident.acknowledged_at, incident.resolved_at, *(note.at for note in notes)]
    assert all(moment is not None and moment <= early.now() for moment in moments), moments


async def test_no_demo_name_is_given_to_two_people(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    async with session_factory() as session:
        await seed_demo(session, clock=clock)
        await session.commit()
        names = [
            *(await session.exec(select(Volunteer.name))).all(),
            *(await session.exec(select(Elder.name))).all(),
            *(await session.exec(select(EmergencyContact.name))).all(),
        ]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert len(names) > 900 and repeated == []
