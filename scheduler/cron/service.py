"""APScheduler 3 in the service's asyncio loop, started only in the process that holds the leader lock.

Jobs live in APScheduler's memory store: the leader adds every job afresh when it takes over, and the catch-up
covers runs missed while no process led, so a persistent store would only add a synchronous driver in the loop.

Every trigger gets the programme's time zone explicitly (triggers built by hand do not inherit the scheduler's),
every job an explicit id with replace_existing, coalesce, max_instances=1 and a generous misfire grace time.

Stopping never cuts database work in the middle: the leadership check in progress finishes, the scheduler stops
firing, and a job or catch-up that is running gets `STOP_GRACE` seconds to finish before it is cancelled (a task
cancelled while its session hands a connection back leaves the pool a broken connection and a traceback). Every job
is idempotent and commits per batch, so one cut after the grace is redone by the next leader's catch-up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.scheduler.cron import jobs
from carevisit.scheduler.visit_policy import VisitPolicy
from carevisit.storage.locks import LeaderLock, Leadership, leader_lock, process_name

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_NAME = "scheduler"
MISFIRE_GRACE = 6 * 3600  # a job due while the process was busy or restarting still runs, hours late if need be
STOP_GRACE = 5.0  # seconds a running job may take to finish on stop (Docker's default stop timeout is 10 s)


def job_triggers(
    *, zone: ZoneInfo, plan_time: time, reminder_time: time
) -> dict[str, tuple[Callable[..., Any], CronTrigger]]:
    """job id → (function, trigger), all in the programme's local time."""
    return {
        "carevisit.month_end": (jobs.month_end_job, CronTrigger(hour=0, minute=5, timezone=zone)),
        "carevisit.plan": (jobs.plan_job, CronTrigger(hour=plan_time.hour, minute=plan_time.minute, timezone=zone)),
        # Newly enrolled or resumed elders are planned within minutes, not at the next night's plan.
        "carevisit.newcomers": (jobs.newcomers_job, CronTrigger(minute="*/10", timezone=zone)),
        "carevisit.digest": (
            jobs.digest_job,
            CronTrigger(hour=reminder_time.hour, minute=reminder_time.minute, timezone=zone),
        ),
        # Hourly in the day: extra visits have deadlines in hours, and nobody wants a notice at 3 am.
        "carevisit.overdue": (jobs.overdue_job, CronTrigger(hour="8-20", minute=15, timezone=zone)),
    }


class SchedulerService:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        zone: ZoneInfo,
        language: str,
        plan_time: time,
        reminder_time: time,
        policy: Callable[[], VisitPolicy],
        lease: timedelta = timedelta(seconds=90),
        check_every: float = 30.0,
        lock: LeaderLock | None = None,
    ) -> None:
        self._zone = zone
        self._plan_time = plan_time
        self._reminder_time = reminder_time
        self.holder = process_name()
        lock = lock or leader_lock(engine, LOCK_NAME, now=clock.now, holder=self.holder, ttl=lease)
        self._leadership = Leadership(lock, on_gain=self._take_over, on_loss=self._stop_scheduler, every=check_every)
        self._context = jobs.JobContext(
            sessions=sessions,
            clock=clock,
            zone=zone,
            language=language,
            plan_time=plan_time,
            reminder_time=reminder_time,
            policy=policy,
        )
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()  # the catch-up and job runs in progress
        self.catch_up_task: asyncio.Task[list[str]] | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        """Compete for leadership once now (a lone process leads as soon as it has started), then every
        `check_every` s in the background."""
        jobs.use_context(self._context)
        await self._leadership.start()

    async def stop(self) -> None:
        """Stop competing (the check in progress finishes), let running work finish, give the lock up."""
        await self._leadership.stop(grace=STOP_GRACE)

    async def check_leadership(self) -> bool:
        """Take, keep or lose the lock, starting or stopping the scheduler to match. Returns whether leader."""
        return await self._leadership.check()

    async def _take_over(self) -> None:
        jobs.use_context(self._context)
        scheduler = AsyncIOScheduler(timezone=self._zone)
        for job_id, (function, trigger) in job_triggers(
            zone=self._zone, plan_time=self._plan_time, reminder_time=self._reminder_time
        ).items():
            scheduler.add_job(
                functools.partial(self._run_job, function),
                trigger,
                id=job_id,
                name=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=MISFIRE_GRACE,
            )
        scheduler.start()
        self.scheduler = scheduler
        log.info("scheduler started as leader (%d jobs)", len(scheduler.get_jobs()))
        # In its own task: a long catch-up (a province's plan) must not hold up renewing the lock.
        self.catch_up_task = self._track(asyncio.create_task(_catch_up_logged(), name="scheduler-catch-up"))

    async def _run_job(self, function: Callable[[], Awaitable[Any]]) -> Any:
        """What APScheduler runs: the job, known to the service so that stopping waits for it."""
        task = asyncio.current_task()
        assert task is not None
        self._track(task)
        return await function()

    def _track(self, task: asyncio.Task[T]) -> asyncio.Task[T]:
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def _stop_scheduler(self) -> None:
        """No new runs; what is running gets STOP_GRACE seconds, then is cancelled (APScheduler's shutdown cancels
        the job runs it started)."""
        if self.scheduler is None:
            return
        scheduler, self.scheduler = self.scheduler, None
        scheduler.pause()
        running = set(self._running)
        if running:
            _done, late = await asyncio.wait(running, timeout=STOP_GRACE)
            if late:
                log.warning("scheduler: %d job(s) still running after %.0f s; cancelling them", len(late), STOP_GRACE)
        scheduler.shutdown(wait=False)
        if self.catch_up_task is not None and not self.catch_up_task.done():
            self.catch_up_task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _catch_up_logged() -> list[str]:
    try:
        return await jobs.catch_up()
    except Exception:
        log.exception("scheduler catch-up failed; the regular jobs will try again")
        return []
