"""APScheduler 3 in the service's asyncio loop, started only in the process that holds the leader lock.

Jobs live in APScheduler's memory store: the leader adds every job afresh when it takes over, and the catch-up
covers runs missed while no process led, so a persistent store would only add a synchronous driver in the loop.

Every trigger gets the programme's time zone explicitly (triggers built by hand do not inherit the scheduler's),
every job an explicit id with replace_existing, coalesce, max_instances=1 and a generous misfire grace time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import time, timedelta
from typing import Any
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

LOCK_NAME = "scheduler"
MISFIRE_GRACE = 6 * 3600  # a job due while the process was busy or restarting still runs, hours late if need be


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
        self.catch_up_task: asyncio.Task[list[str]] | None = None

    @property
    def is_leader(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        """Join the competition for leadership; returns at once. Leadership is checked every `check_every` s."""
        jobs.use_context(self._context)
        await self._leadership.start()

    async def stop(self) -> None:
        await self._leadership.stop()

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
                function,
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
        self.catch_up_task = asyncio.create_task(_catch_up_logged(), name="scheduler-catch-up")

    async def _stop_scheduler(self) -> None:
        if self.catch_up_task is not None and not self.catch_up_task.done():
            self.catch_up_task.cancel()
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            scheduler.shutdown(wait=False)


async def _catch_up_logged() -> list[str]:
    try:
        return await jobs.catch_up()
    except Exception:
        log.exception("scheduler catch-up failed; the regular jobs will try again")
        return []
