"""Shared visit queries: what is overdue, unassigned, and due for a volunteer."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.visit_queries import overdue_visits, unassigned_visits, visits_for_volunteer
from carevisit.storage.enums import VisitStatus
from tests.factories import make_area_tree, make_elder, make_visit, make_volunteer


async def test_overdue_is_a_planned_visit_past_its_window_or_deadline(session: AsyncSession, clock: FakeClock) -> None:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"])
    late = await make_visit(session, clock, elder=elder, slot=1, window_end=date(2026, 3, 9))
    await make_visit(session, clock, elder=elder, slot=2, window_end=date(2026, 3, 9), status=VisitStatus.DONE)
    await make_visit(session, clock, elder=elder, slot=3, window_end=date(2026, 3, 10))  # due today: not yet late
    extra = await make_visit(session, clock, elder=elder, slot=4, deadline_at=clock.now() - timedelta(minutes=1))

    today = date(2026, 3, 10)
    overdue = await overdue_visits(session, area=areas["district"], today=today, now=clock.now())
    assert [visit.id for visit, _ in overdue] == [late.id, extra.id]
    assert await overdue_visits(session, area=areas["other_street"], today=today, now=clock.now()) == []


async def test_unassigned_and_volunteer_lists(session: AsyncSession, clock: FakeClock) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"])
    mine_soon = await make_visit(
        session, clock, elder=elder, slot=1, volunteer_id=volunteer.id, window_start=date(2026, 3, 12)
    )
    await make_visit(session, clock, elder=elder, slot=2, volunteer_id=volunteer.id, window_start=date(2026, 3, 25))
    orphan = await make_visit(session, clock, elder=elder, slot=3)

    assert [v.id for v, _ in await unassigned_visits(session, area=areas["street"], month="2026-03")] == [orphan.id]
    mine = await visits_for_volunteer(session, volunteer_id=volunteer.id, today=date(2026, 3, 10))
    assert [v.id for v, _ in mine] == [mine_soon.id]


async def test_last_months_open_visits_are_listed_through_the_first_of_the_month_only(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"])
    march = await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id, window_start=date(2026, 3, 20))
    await make_visit(
        session,
        clock,
        elder=elder,
        month="2026-02",
        volunteer_id=volunteer.id,
        window_start=date(2026, 2, 1),
        window_end=date(2026, 2, 28),
    )  # never marked missed (the scheduler was down): closed all the same
    april = await make_visit(
        session,
        clock,
        elder=elder,
        month="2026-04",
        volunteer_id=volunteer.id,
        window_start=date(2026, 4, 1),
        window_end=date(2026, 4, 30),
    )

    first = await visits_for_volunteer(session, volunteer_id=volunteer.id, today=date(2026, 4, 1))
    assert [v.id for v, _ in first] == [march.id, april.id]
    second = await visits_for_volunteer(session, volunteer_id=volunteer.id, today=date(2026, 4, 2))
    assert [v.id for v, _ in second] == [april.id]
