"""Pausing an elder's visits (in hospital, away with family) and resuming them.

While paused, open visits inside the pause are cancelled (they stay on record), the planner plans nothing, and
the elder is out of the visit rate's denominator (`care.visit_rate` counts active elders). On resuming, the next
newcomers run (every 10 minutes, `scheduler.planning.plan_newcomers`) plans the rest of the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Elder, Visit


class ElderNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class PauseResult:
    cancelled: int  # open visits wholly inside the pause
    shortened: int  # open visits whose window now starts the day after the pause


async def pause_elder(
    session: AsyncSession, *, clock: Clock, elder_id: int, until: date | None, actor: str
) -> PauseResult:
    """Pause until `until` (the last day of the pause, inclusive) or until resumed. Does not commit."""
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(elder_id)
    now = clock.now()
    elder.status = ElderStatus.PAUSED
    elder.paused_until = until
    elder.updated_at = now
    session.add(elder)
    open_visits = await session.exec(
        select(Visit).where(col(Visit.elder_id) == elder_id, col(Visit.status) == VisitStatus.PLANNED)
    )
    cancelled = shortened = 0
    for visit in open_visits.all():
        if until is not None and visit.window_start > until:
            continue
        if until is not None and visit.window_end > until and visit.deadline_at is None:
            visit.window_start = until + timedelta(days=1)
            shortened += 1
        else:
            visit.status = VisitStatus.CANCELLED
            cancelled += 1
        visit.updated_at = now
        session.add(visit)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="elder.pause",
        entity="elder",
        entity_id=elder_id,
        details={"until": until.isoformat() if until else None, "cancelled": cancelled},
    )
    return PauseResult(cancelled=cancelled, shortened=shortened)


async def resume_elder(session: AsyncSession, *, clock: Clock, elder_id: int, actor: str) -> None:
    """Make a paused elder active again. Does not commit; plan the rest of the month afterwards."""
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(elder_id)
    elder.status = ElderStatus.ACTIVE
    elder.paused_until = None
    elder.updated_at = clock.now()
    session.add(elder)
    audit.record(session, clock=clock, actor=actor, action="elder.resume", entity="elder", entity_id=elder_id)


async def cancel_visits_of_ineligible(session: AsyncSession, *, clock: Clock) -> int:
    """Cancel open visits of elders who left (moved, deceased, withdrew), withdrew consent, or are paused over the
    visit's window, however their status was changed (a roster import, the dashboard). Idempotent; no commit."""
    left = select(Elder.id).where(
        col(Elder.status).in_((ElderStatus.MOVED, ElderStatus.DECEASED, ElderStatus.WITHDREW))
        | col(Elder.consent).is_(False)
    )
    paused_indefinitely = select(Elder.id).where(
        col(Elder.status) == ElderStatus.PAUSED, col(Elder.paused_until).is_(None)
    )
    paused_until = (
        select(Elder.paused_until)
        .where(col(Elder.id) == col(Visit.elder_id), col(Elder.status) == ElderStatus.PAUSED)
        .scalar_subquery()
    )
    result = await session.exec(
        update(Visit)
        .where(
            col(Visit.status) == VisitStatus.PLANNED,
            col(Visit.elder_id).in_(left)
            | col(Visit.elder_id).in_(paused_indefinitely)
            | (col(Visit.window_end) <= paused_until),
        )
        .values(status=VisitStatus.CANCELLED, updated_at=clock.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
