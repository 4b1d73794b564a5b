"""The scheduled jobs: module-level functions with no arguments (APScheduler's way, and what a persistent job
store would need again); what they need (database, clock, zone, policy) is set once by the service (`use_context`).

Every job is idempotent: running it twice, late, or again after a crash changes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.scheduler.elder_pause import cancel_visits_of_ineligible
from carevisit.scheduler.planning import PlanSummary, plan_current_month, plan_newcomers
from carevisit.scheduler.reminders import mark_missed, notify_overdue, queue_daily_digests
from carevisit.scheduler.visit_policy import VisitPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    zone: ZoneInfo
    language: str
    plan_time: time
    reminder_time: time
    policy: Callable[[], VisitPolicy]  # read at each run, so an edited policy file takes effect next time


_context: JobContext | None = None


def use_context(context: JobContext | None) -> None:
    global _context
    _context = context


def _ctx() -> JobContext:
    if _context is None:
        raise RuntimeError("scheduler jobs ran before the scheduler service set their context")
    return _context


async def plan_job() -> PlanSummary:
    """Plan the current local month: the whole plan on the 1st, newcomers and resumed elders on later days.

    First cancels open visits of elders who left, withdrew consent or are paused, whoever changed their status."""
    ctx = _ctx()
    async with ctx.sessions() as session:
        await cancel_visits_of_ineligible(session, clock=ctx.clock)
        await session.commit()
    return await plan_current_month(ctx.sessions, clock=ctx.clock, zone=ctx.zone, policy=ctx.policy())


async def newcomers_job() -> int:
    """Every few minutes: elders enrolled or resumed since the last plan get the rest of the month at once.

    Not on the 1st before the plan time: the monthly plan is coming and plans everyone together."""
    ctx = _ctx()
    local = ctx.clock.now().astimezone(ctx.zone)
    if local.day == 1 and local.time() < ctx.plan_time:
        return 0
    summary = await plan_newcomers(ctx.sessions, clock=ctx.clock, zone=ctx.zone, policy=ctx.policy())
    return summary.elders_planned if summary else 0


async def digest_job() -> int:
    ctx = _ctx()
    async with ctx.sessions() as session:
        result = await queue_daily_digests(session, clock=ctx.clock, zone=ctx.zone, language=ctx.language)
        await session.commit()
    return result.queued


async def overdue_job() -> int:
    ctx = _ctx()
    async with ctx.sessions() as session:
        result = await notify_overdue(session, clock=ctx.clock, zone=ctx.zone, language=ctx.language)
        await session.commit()
    return result.visits


async def month_end_job() -> int:
    ctx = _ctx()
    async with ctx.sessions() as session:
        count = await mark_missed(session, clock=ctx.clock, zone=ctx.zone)
        await session.commit()
    return count


async def catch_up() -> list[str]:
    """Run, on becoming leader, whatever was due while no scheduler ran. Returns the names of the jobs it ran."""
    ctx = _ctx()
    local = ctx.clock.now().astimezone(ctx.zone)
    ran = ["month_end"]
    await month_end_job()
    if not (local.day == 1 and local.time() < ctx.plan_time):
        await plan_job()
        ran.append("plan")
    await overdue_job()
    ran.append("overdue")
    if local.time() >= ctx.reminder_time:
        await digest_job()
        ran.append("digest")
    log.info("scheduler catch-up ran: %s", ", ".join(ran))
    return ran
