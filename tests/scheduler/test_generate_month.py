"""Monthly generation against a real database: idempotent, gap-free after a crash, assigned with care."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.scheduler import planning
from carevisit.scheduler.planning import generate_month, plan_current_month
from carevisit.scheduler.visit_policy import VisitPolicy
from carevisit.storage.enums import ElderStatus, RiskLevel, VisitMode, VisitStatus
from carevisit.storage.models import Visit
from tests.factories import make_area_tree, make_elder, make_visit, make_volunteer
from tests.scheduler.conftest import SHANGHAI


async def visits_of(session: AsyncSession, month: str) -> list[Visit]:
    statement = select(Visit).where(Visit.month == month).order_by(col(Visit.elder_id), col(Visit.slot))
    result = await session.exec(statement.execution_options(populate_existing=True))
    return list(result.all())


def plan_shape(visits: list[Visit]) -> list[tuple[Any, ...]]:
    return [(v.elder_id, v.slot, v.mode, v.window_start, v.window_end, v.volunteer_id) for v in visits]


async def test_planning_twice_gives_the_same_plan_and_the_summary_says_what_happened(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    high = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await make_elder(session, clock, community=areas["community"], risk=RiskLevel.LOW)
    await make_elder(session, clock, community=areas["community"], consent=False)
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.DECEASED)
    await session.commit()

    first = await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    assert (first.elders_planned, first.visits_created, first.not_consenting, first.left) == (2, 5, 1, 1)
    assert first.by_mode == {"home": 3, "phone": 2}
    plan = await visits_of(session, "2026-04")
    assert {v.volunteer_id for v in plan} == {volunteer.id}
    assert all(v.policy_version == policy.version for v in plan)
    assert [v.mode for v in plan if v.elder_id == high.id] == [VisitMode.HOME, VisitMode.PHONE] * 2

    again = await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    assert (again.visits_created, again.already_planned) == (0, 2)
    assert plan_shape(await visits_of(session, "2026-04")) == plan_shape(plan)


async def test_a_dry_run_reports_the_plan_and_writes_nothing(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    await session.commit()
    summary = await generate_month(
        session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04", dry_run=True
    )
    assert (summary.visits_created, summary.unassigned_total) == (2, 2)  # no volunteer serves the community
    assert await visits_of(session, "2026-04") == []


async def test_a_crash_half_way_then_a_rerun_fills_exactly_the_gaps(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    policy: VisitPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    areas = await make_area_tree(session)
    await make_volunteer(session, clock, communities=[areas["community"]], capacity=100)
    for _ in range(7):
        await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    await session.commit()
    # The reference: the same programme planned in one go, in a database of its own, is 14 visits.
    real_insert = planning.insert_visits
    batches = 0

    async def crash_on_third_batch(connection, rows):  # type: ignore[no-untyped-def]
        nonlocal batches
        batches += 1
        if batches == 3:
            raise ConnectionError("the database went away")
        await real_insert(connection, rows)

    monkeypatch.setattr(planning, "insert_visits", crash_on_third_batch)
    with pytest.raises(ConnectionError):
        await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04", batch_size=3)
    assert len(await visits_of(session, "2026-04")) == 12  # two batches of 3 elders × 2 visits committed

    monkeypatch.setattr(planning, "insert_visits", real_insert)
    rerun = await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    assert (rerun.elders_planned, rerun.already_planned, rerun.visits_created) == (1, 6, 2)
    plan = await visits_of(session, "2026-04")
    assert len(plan) == 14 and len({(v.elder_id, v.slot) for v in plan}) == 14
    assert all(v.volunteer_id is not None for v in plan)


async def test_capacity_runs_out_and_the_rest_are_listed_as_unassigned(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    a = await make_volunteer(session, clock, communities=[areas["community"]], capacity=3)
    b = await make_volunteer(session, clock, communities=[areas["community"]], capacity=3)
    outsider = await make_volunteer(session, clock, communities=[areas["other_community"]], capacity=50)
    for _ in range(4):
        await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    await session.commit()
    summary = await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    plan = await visits_of(session, "2026-04")
    loads = {volunteer.id: sum(v.volunteer_id == volunteer.id for v in plan) for volunteer in (a, b, outsider)}
    assert loads == {a.id: 3, b.id: 3, outsider.id: 0}  # full, balanced, and no one from another community
    assert summary.unassigned_total == 2 == sum(v.volunteer_id is None for v in plan)


async def test_visits_are_balanced_across_the_communitys_volunteers(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    volunteers = [await make_volunteer(session, clock, communities=[areas["community"]]) for _ in range(3)]
    for _ in range(9):
        await make_elder(session, clock, community=areas["community"])
    await session.commit()
    await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    plan = await visits_of(session, "2026-04")
    assert sorted(sum(v.volunteer_id == vol.id for v in plan) for vol in volunteers) == [3, 3, 3]


async def test_last_months_volunteer_keeps_the_elder_even_when_balance_would_move_them(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    familiar = await make_volunteer(session, clock, communities=[areas["community"]], capacity=2)
    other = await make_volunteer(session, clock, communities=[areas["community"]], capacity=10)
    newcomer = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    regular = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    await make_visit(
        session,
        clock,
        elder=regular,
        month="2026-03",
        volunteer_id=familiar.id,
        status=VisitStatus.DONE,
        done_by_volunteer_id=familiar.id,
    )
    await session.commit()
    await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    plan = await visits_of(session, "2026-04")
    # The newcomer has the lower id and would be planned first; the familiar face is kept for the regular anyway.
    assert {v.volunteer_id for v in plan if v.elder_id == regular.id} == {familiar.id}
    assert {v.volunteer_id for v in plan if v.elder_id == newcomer.id} == {other.id}


async def test_an_elder_enrolled_mid_month_is_planned_for_the_rest_of_it(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    await make_volunteer(session, clock, communities=[areas["community"]])
    await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await session.commit()
    clock.set(datetime(2026, 4, 1, 1, 0, tzinfo=SHANGHAI))
    await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)

    clock.set(datetime(2026, 4, 17, 9, 30, tzinfo=SHANGHAI))
    late = await make_elder(
        session, clock, community=areas["community"], risk=RiskLevel.HIGH, enrolled_on=date(2026, 4, 17)
    )
    await session.commit()
    summary = await generate_month(
        session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04", elder_ids=[late.id]
    )
    assert summary.elders_planned == 1
    windows = [(v.window_start, v.window_end) for v in await visits_of(session, "2026-04") if v.elder_id == late.id]
    assert windows == [(date(2026, 4, 17), date(2026, 4, 23)), (date(2026, 4, 24), date(2026, 4, 30))]


async def test_an_unplanned_visit_before_the_plan_takes_none_of_its_slots(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    from carevisit.care.confirmations import start_unplanned_visit

    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await session.commit()
    clock.set(datetime(2026, 4, 1, 0, 30, tzinfo=SHANGHAI))  # a volunteer drops by before the night's planning
    unplanned = await start_unplanned_visit(
        session, clock=clock, volunteer_id=volunteer.id, elder_id=elder.id, today=date(2026, 4, 1), mode=VisitMode.HOME
    )
    await session.commit()
    summary = await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)
    assert summary is not None and summary.visits_created == 4
    plan = await visits_of(session, "2026-04")
    assert [v.slot for v in plan] == [1, 2, 3, 4, unplanned.slot]
    assert unplanned.slot > 200


@pytest.mark.parametrize(
    ("local_time", "month"),
    [
        (datetime(2026, 3, 31, 23, 59, tzinfo=SHANGHAI), "2026-03"),
        (datetime(2026, 4, 1, 0, 1, tzinfo=SHANGHAI), "2026-04"),
    ],
)
async def test_the_current_month_is_the_local_one_not_utcs(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    policy: VisitPolicy,
    local_time: datetime,
    month: str,
) -> None:
    areas = await make_area_tree(session)
    await make_elder(session, clock, community=areas["community"])
    await session.commit()
    clock.set(local_time)  # 00:01 in Shanghai is still 16:01 on the 31st in UTC
    summary = await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)
    assert summary.month == month
    assert len(await visits_of(session, month)) == 1


async def test_a_pause_cancels_the_visits_inside_it_and_resuming_plans_the_rest_of_the_month(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    from carevisit.scheduler.elder_pause import pause_elder, resume_elder

    areas = await make_area_tree(session)
    await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await session.commit()
    clock.set(datetime(2026, 3, 1, 1, 0, tzinfo=SHANGHAI))
    await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)

    clock.set(datetime(2026, 3, 5, 15, 0, tzinfo=SHANGHAI))  # taken to hospital, no return date yet
    paused = await pause_elder(session, clock=clock, elder_id=elder.id, until=None, actor="coordinator:1")
    await session.commit()
    assert paused.cancelled == 4
    assert (await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)).visits_created == 0

    clock.set(datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI))  # home again
    await resume_elder(session, clock=clock, elder_id=elder.id, actor="coordinator:1")
    await session.commit()
    resumed = await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)
    again = await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)
    assert (resumed.visits_created, again.visits_created) == (2, 0)
    plan = await visits_of(session, "2026-03")
    # The cancelled visits stay on record; the rest of the month gets new slots after them.
    assert [(v.slot, v.status) for v in plan] == [(slot, VisitStatus.CANCELLED) for slot in (1, 2, 3, 4)] + [
        (5, VisitStatus.PLANNED),
        (6, VisitStatus.PLANNED),
    ]
    assert [(v.window_start, v.window_end) for v in plan[4:]] == [
        (date(2026, 3, 20), date(2026, 3, 25)),
        (date(2026, 3, 26), date(2026, 3, 31)),
    ]


async def test_a_pause_with_an_end_date_shortens_the_visit_that_straddles_it(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    from carevisit.scheduler.elder_pause import pause_elder

    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await session.commit()
    clock.set(datetime(2026, 3, 1, 1, 0, tzinfo=SHANGHAI))
    await plan_current_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy)
    result = await pause_elder(session, clock=clock, elder_id=elder.id, until=date(2026, 3, 10), actor="cli")
    await session.commit()
    assert (result.cancelled, result.shortened) == (1, 1)
    plan = await visits_of(session, "2026-03")
    assert [(v.status, v.window_start) for v in plan] == [
        (VisitStatus.CANCELLED, date(2026, 3, 1)),
        (VisitStatus.PLANNED, date(2026, 3, 11)),
        (VisitStatus.PLANNED, date(2026, 3, 16)),
        (VisitStatus.PLANNED, date(2026, 3, 24)),
    ]
