"""The scheduler service: one leader per database, jobs persisted with local-time triggers, catch-up on start."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.config import load_settings
from carevisit.parts.scheduler import make_part
from carevisit.scheduler.cron import jobs
from carevisit.scheduler.cron.service import SchedulerService, job_triggers
from carevisit.scheduler.elder_pause import pause_elder, resume_elder
from carevisit.scheduler.visit_policy import VisitPolicy
from carevisit.storage.enums import RiskLevel, VisitStatus
from carevisit.storage.locks import PostgresAdvisoryLock
from carevisit.storage.models import ChatOutboxMessage, Visit
from tests.factories import make_area_tree, make_elder, make_visit, make_volunteer
from tests.scheduler.conftest import SHANGHAI

NEW_YORK = ZoneInfo("America/New_York")


def service(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> SchedulerService:
    return SchedulerService(
        engine=engine,
        sessions=sessions,
        clock=clock,
        zone=SHANGHAI,
        language="zh_CN",
        plan_time=time(1, 0),
        reminder_time=time(9, 0),
        policy=lambda: policy,
        lease=timedelta(seconds=60),
    )


def scheduled_jobs(service: SchedulerService) -> list[str]:
    assert service.scheduler is not None
    return sorted(job.id for job in service.scheduler.get_jobs())


async def test_only_one_of_two_schedulers_on_a_database_fires_jobs_and_the_other_takes_over(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    clock: FakeClock,
    policy: VisitPolicy,
) -> None:
    first = service(engine, session_factory, clock, policy)
    second = service(engine, session_factory, clock, policy)
    try:
        assert await first.check_leadership() is True
        assert await second.check_leadership() is False
        assert await first.check_leadership() is True  # renewing keeps it
        assert await second.check_leadership() is False
        assert first.scheduler is not None and second.scheduler is None
        assert scheduled_jobs(first) == [
            "carevisit.digest",
            "carevisit.month_end",
            "carevisit.newcomers",
            "carevisit.overdue",
            "carevisit.plan",
        ]

        await first.stop()  # a clean shutdown hands over at the other's next check
        assert await second.check_leadership() is True
        assert second.scheduler is not None
    finally:
        await first.stop()
        await second.stop()


async def test_a_crashed_leader_is_replaced(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    policy: VisitPolicy,
    backend: str,
) -> None:
    crashed = service(engine, session_factory, clock, policy)
    standby = service(engine, session_factory, clock, policy)
    try:
        assert await crashed.check_leadership()
        await crashed._stop_scheduler()  # the process dies: no release
        if backend == "postgres":
            await crashed._leadership.lock._drop()  # type: ignore[attr-defined]  # its connection goes with it
        else:
            assert await standby.check_leadership() is False  # the lease is still running
            clock.advance(timedelta(seconds=61))
        assert await standby.check_leadership() is True
    finally:
        await standby.stop()


async def test_a_lock_connection_given_up_takes_its_lock_with_it(engine: AsyncEngine, backend: str) -> None:
    """After a database error the lock's connection is dropped; handed back to the pool it would keep the session's
    advisory lock, unseen, and no process could lead until the pool recycled it."""
    if backend != "postgres":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite's lease is a row")
    lock = PostgresAdvisoryLock(engine, "scheduler")
    assert await lock.try_acquire()
    await lock._drop()  # what a failed renewal does
    async with engine.connect() as connection:
        held = await connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        assert held.scalar() == 0
    successor = PostgresAdvisoryLock(engine, "scheduler")
    assert await successor.try_acquire()
    await successor.release()


async def test_on_taking_over_it_catches_up_on_what_was_missed(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    clock: FakeClock,
    policy: VisitPolicy,
) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], telegram_chat_id=42)
    elder = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.MEDIUM)
    february = await make_visit(
        session, clock, elder=elder, month="2026-02", window_start=date(2026, 2, 1), window_end=date(2026, 2, 28)
    )
    await session.commit()
    # The service was down from February until 10 March, 10:00 local: past the plan and the reminder times.
    leader = service(engine, session_factory, clock, policy)
    try:
        assert await leader.check_leadership()
        assert leader.catch_up_task is not None
        assert await asyncio.wait_for(leader.catch_up_task, 30) == ["month_end", "plan", "overdue", "digest"]
    finally:
        await leader.stop()
    await session.refresh(february)
    assert february.status == VisitStatus.MISSED
    march = (await session.exec(select(Visit).where(Visit.month == "2026-03").order_by(col(Visit.slot)))).all()
    # The rest of March (22 of 31 days) still needs both visits, from today on, with the familiar volunteer.
    assert [(v.window_start, v.window_end) for v in march] == [
        (date(2026, 3, 10), date(2026, 3, 20)),
        (date(2026, 3, 21), date(2026, 3, 31)),
    ]
    assert {v.volunteer_id for v in march} == {volunteer.id}
    digests = (await session.exec(select(func.count()).select_from(ChatOutboxMessage))).one()
    assert digests == 0  # the first window closes on the 20th: nothing due soon yet


async def test_before_the_reminder_hour_catch_up_sends_no_digest(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    clock.set(datetime(2026, 3, 1, 0, 30, tzinfo=SHANGHAI))
    jobs.use_context(jobs.JobContext(session_factory, clock, SHANGHAI, "zh_CN", time(1, 0), time(9, 0), lambda: policy))
    assert await jobs.catch_up() == ["month_end", "overdue"]  # and the plan waits for 01:00 on the 1st


async def test_a_catch_up_on_the_first_leaves_last_month_open_for_late_confirmations(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"])
    march = await make_visit(session, clock, elder=elder)
    await session.commit()
    jobs.use_context(jobs.JobContext(session_factory, clock, SHANGHAI, "zh_CN", time(1, 0), time(9, 0), lambda: policy))
    clock.set(datetime(2026, 4, 1, 10, 0, tzinfo=SHANGHAI))  # a leader taking over on the 1st
    assert "month_end" in await jobs.catch_up()
    await session.refresh(march)
    assert march.status == VisitStatus.PLANNED
    clock.set(datetime(2026, 4, 2, 10, 0, tzinfo=SHANGHAI))  # and on the 2nd
    await jobs.catch_up()
    await session.refresh(march)
    assert march.status == VisitStatus.MISSED


def test_triggers_fire_at_local_times_across_a_daylight_saving_change() -> None:
    triggers = job_triggers(zone=NEW_YORK, plan_time=time(1, 0), reminder_time=time(9, 0))
    _, digest = triggers["carevisit.digest"]
    before = digest.get_next_fire_time(None, datetime(2026, 3, 7, 0, 0, tzinfo=NEW_YORK))
    after = digest.get_next_fire_time(None, datetime(2026, 3, 9, 0, 0, tzinfo=NEW_YORK))
    assert before is not None and after is not None
    # 09:00 in New York is 14:00 UTC before clocks go forward on 8 March 2026 and 13:00 UTC after.
    assert before.astimezone(UTC).hour == 14 and after.astimezone(UTC).hour == 13
    _, plan = job_triggers(zone=SHANGHAI, plan_time=time(1, 0), reminder_time=time(9, 0))["carevisit.plan"]
    fire = plan.get_next_fire_time(None, datetime(2026, 3, 31, 23, 59, tzinfo=SHANGHAI))
    assert fire == datetime(2026, 4, 1, 1, 0, tzinfo=SHANGHAI)  # 17:00 UTC on 31 March


async def test_the_part_starts_and_stops_cleanly(
    db_url: str,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    clock: FakeClock,
) -> None:
    rt = Runtime(settings=load_settings(database_url=db_url), clock=clock, engine=engine, sessions=session_factory)
    part = make_part(rt)
    assert part.name == "scheduler"
    await part.start()
    assert part.service.is_leader  # alone on the database, it leads as soon as it has started
    assert len(scheduled_jobs(part.service)) == 5
    await part.stop()
    assert not part.service.is_leader


@pytest.fixture(autouse=True)
def _forget_job_context() -> None:
    jobs.use_context(None)


async def test_an_elder_enrolled_mid_month_is_planned_by_the_next_newcomers_run(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, policy: VisitPolicy
) -> None:
    areas = await make_area_tree(session)
    planned = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=planned)
    newcomer = await make_elder(session, clock, community=areas["community"], enrolled_on=date(2026, 3, 10))
    await make_elder(session, clock, community=areas["community"], enrolled_on=date(2026, 3, 20))  # not yet
    await session.commit()
    jobs.use_context(jobs.JobContext(session_factory, clock, SHANGHAI, "zh_CN", time(1, 0), time(9, 0), lambda: policy))
    assert await jobs.newcomers_job() == 1
    assert await jobs.newcomers_job() == 0
    rows = (await session.exec(select(Visit.elder_id, Visit.window_start).order_by(col(Visit.elder_id)))).all()
    assert rows == [(planned.id, date(2026, 3, 1)), (newcomer.id, date(2026, 3, 10))]
    clock.set(datetime(2026, 4, 1, 0, 20, tzinfo=SHANGHAI))  # the 1st before the plan time: left to the plan
    assert await jobs.newcomers_job() == 0


@pytest.mark.parametrize("visited_before_the_pause", [False, True])
async def test_an_elder_resumed_after_a_pause_is_planned_by_the_next_newcomers_run(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    policy: VisitPolicy,
    visited_before_the_pause: bool,
) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    still_away = await make_elder(session, clock, community=areas["community"], risk=RiskLevel.HIGH)
    await session.commit()
    jobs.use_context(jobs.JobContext(session_factory, clock, SHANGHAI, "zh_CN", time(1, 0), time(9, 0), lambda: policy))
    clock.set(datetime(2026, 3, 1, 1, 0, tzinfo=SHANGHAI))
    await jobs.plan_job()
    if visited_before_the_pause:
        first = (await session.exec(select(Visit).where(Visit.elder_id == elder.id, Visit.slot == 1))).one()
        first.status, first.done_at = VisitStatus.DONE, clock.now()
        session.add(first)
        await session.commit()

    clock.set(datetime(2026, 3, 5, 15, 0, tzinfo=SHANGHAI))  # both taken to hospital, no return date yet
    for who in (elder, still_away):
        await pause_elder(session, clock=clock, elder_id=who.id, until=None, actor="coordinator:1")
    await session.commit()
    clock.set(datetime(2026, 3, 20, 10, 0, tzinfo=SHANGHAI))  # one is home again
    await resume_elder(session, clock=clock, elder_id=elder.id, actor="coordinator:1")
    await session.commit()

    assert await jobs.newcomers_job() == 1  # within ten minutes, not at tomorrow's plan
    assert await jobs.newcomers_job() == 0  # and a rerun plans nothing more
    plan = (
        await session.exec(
            select(Visit)
            .where(Visit.elder_id == elder.id, Visit.status == VisitStatus.PLANNED)
            .order_by(col(Visit.slot))
            .execution_options(populate_existing=True)
        )
    ).all()
    # The rest of March after the cancelled slots 1-4, from today on, with the same volunteer.
    assert [(v.slot, v.window_start, v.window_end, v.volunteer_id) for v in plan] == [
        (5, date(2026, 3, 20), date(2026, 3, 25), volunteer.id),
        (6, date(2026, 3, 26), date(2026, 3, 31), volunteer.id),
    ]
    assert (await jobs.plan_job()).visits_created == 0  # the nightly plan agrees: nothing to add
    away = (await session.exec(select(Visit.status).where(Visit.elder_id == still_away.id))).all()
    assert set(away) == {VisitStatus.CANCELLED}
