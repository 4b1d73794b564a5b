"""The demo's month so far: the plan, the visits volunteers have confirmed, a few problems and one handled emergency.

It goes through the same domain services the bot and the dashboard use (planning, confirmation, incidents), each
confirmation at a moment inside its visit's window, so the dashboard shows what a real month looks like on its
current day: a visit rate on its way to 100%, some visits overdue, a referral queue and an archived emergency.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, FakeClock, local_today, month_of
from carevisit.care.confirmations import CONCERN, DEFAULT_CHECKLIST, confirm_visit
from carevisit.escalation.incidents import acknowledge, open_incident, resolve
from carevisit.escalation.policy import EscalationPolicy
from carevisit.scheduler.planning import PlanSummary, generate_month
from carevisit.scheduler.visit_policy import VisitPolicy
from carevisit.storage.enums import VisitOutcome, VisitStatus
from carevisit.storage.models import Coordinator, Visit

CONFIRMED_SHARE = 0.7  # of the visits whose window has opened
PROBLEM_SHARE = 0.06  # of confirmed visits, one checklist concern each


@dataclass(frozen=True)
class MonthSoFar:
    plan: PlanSummary
    confirmed: int
    problems: int
    incidents: int


async def play_month_so_far(
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock,
    zone: ZoneInfo,
    visit_policy: VisitPolicy,
    escalation_policy: EscalationPolicy,
    seed: int = 2026,
) -> MonthSoFar:
    """Plan this month as the scheduler did on its first day, then play the confirmations up to now. Commits."""
    rng = random.Random(seed)
    today = local_today(clock, zone)
    month = month_of(today)
    first_day = FakeClock(datetime.combine(today.replace(day=1), time(1, 0), tzinfo=zone))
    plan = await generate_month(sessions, clock=first_day, zone=zone, policy=visit_policy, month=month)
    now = clock.now()
    confirmed: list[tuple[Visit, datetime]] = []
    problems = 0
    async with sessions() as session:
        due = (
            await session.exec(
                select(Visit)
                .where(
                    col(Visit.month) == month,
                    col(Visit.status) == VisitStatus.PLANNED,
                    col(Visit.volunteer_id).is_not(None),
                    col(Visit.window_start) <= today,
                )
                .order_by(col(Visit.id))
            )
        ).all()
        for visit in due:
            if rng.random() > CONFIRMED_SHARE:
                continue
            concern = rng.random() < PROBLEM_SHARE
            item = rng.choice(DEFAULT_CHECKLIST)
            moment = min(_moment_in(rng, zone, visit.window_start, min(visit.window_end, today)), now)
            result = await confirm_visit(
                session,
                clock=FakeClock(moment),
                zone=zone,
                visit_id=visit.id,  # type: ignore[arg-type]
                volunteer_id=visit.volunteer_id,  # type: ignore[arg-type]
                mode=visit.mode,
                outcome=VisitOutcome.PROBLEM if concern else VisitOutcome.WELL,
                answers={item.key: CONCERN} if concern else None,
            )
            confirmed.append((visit, moment))
            problems += len(result.problems)
        incidents = await _one_handled_emergency(
            session, rng=rng, clock=clock, policy=escalation_policy, done=confirmed
        )
        await session.commit()
    return MonthSoFar(plan=plan, confirmed=len(confirmed), problems=problems, incidents=incidents)


# The seeded emergency's story: reported on a visit, acknowledged 3 minutes later, resolved 2 hours after that.
ACK_AFTER = timedelta(minutes=3)
RESOLVE_AFTER = timedelta(hours=2)


async def _one_handled_emergency(
    session: AsyncSession,
    *,
    rng: random.Random,
    clock: Clock,
    policy: EscalationPolicy,
    done: list[tuple[Visit, datetime]],
) -> int:
    """A fall found on a visit: reported, acknowledged by the street's coordinator, resolved with its record.
    Every step of it lies in the past: a demo opened at 06:25 shows no acknowledgement at 06:27."""
    if not done:
        return 0
    visit, reported_at = _emergency_visit(rng, done, latest=clock.now() - ACK_AFTER - RESOLVE_AFTER)
    moment = FakeClock(reported_at)
    incident = await open_incident(
        session,
        clock=moment,
        policy=policy,
        elder_id=visit.elder_id,
        kind="fall",
        description="老人在家中跌倒，意识清醒，已拨打120",
        reporter_volunteer_id=visit.volunteer_id,
        visit_id=visit.id,
    )
    coordinator = (await session.exec(select(Coordinator).order_by(col(Coordinator.id)))).first()
    by = f"coordinator:{coordinator.id}" if coordinator else "demo"
    moment.advance(ACK_AFTER)
    await acknowledge(session, clock=moment, incident_id=incident.id, by=by, channel="dashboard")  # type: ignore[arg-type]
    moment.advance(RESOLVE_AFTER)
    await resolve(
        session,
        clock=moment,
        incident_id=incident.id,  # type: ignore[arg-type]
        by=by,
        what_happened="老人起身时跌倒，志愿者上门探访时发现",
        actions_taken="拨打120送医，联系女儿到医院陪护",
        outcome="轻微骨裂，已住院观察；出院后安排加访",
    )
    return 1


def _emergency_visit(
    rng: random.Random, done: list[tuple[Visit, datetime]], *, latest: datetime
) -> tuple[Visit, datetime]:
    """A confirmed visit whose emergency story can end by now, and when it was reported: at its confirmation, or
    (when every visit was confirmed too recently, early on the month's first day) at `latest`."""
    early = [(visit, at) for visit, at in done if at <= latest]
    if early:
        return rng.choice(early)
    visit, _at = rng.choice(done)
    return visit, latest


def _moment_in(rng: random.Random, zone: ZoneInfo, first: date, last: date) -> datetime:
    """A daytime moment (09:00–17:00 local) on a day from `first` to `last`."""
    day = first + timedelta(days=rng.randint(0, max((last - first).days, 0)))
    return datetime.combine(day, time(9, 0), tzinfo=zone) + timedelta(minutes=rng.randint(0, 8 * 60))
