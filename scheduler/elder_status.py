"""An elder leaving the programme (moved away, deceased), and which status changes a coordinator may make.

Leaving ends the plan: the elder's open visits are cancelled at once (they stay on record, as
`cancel_visits_of_ineligible` leaves them), the planner plans nothing more for them (`planning._LEFT`), and the visit
rate no longer counts them. Pausing and resuming are `scheduler.elder_pause`. Nothing here commits.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.scheduler.elder_pause import ElderNotFound
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Elder, Visit

LEAVING = (ElderStatus.MOVED, ElderStatus.DECEASED)


class StatusChangeRefused(ValueError):
    """This change does not apply to the elder's current status (e.g. pausing an elder who has died)."""


def may_change(current: ElderStatus, wanted: ElderStatus) -> bool:
    """Deceased is final. Pause applies to an active or paused elder (a new end date), resume to a paused one or to
    one who had moved and came back; moving applies to anyone living."""
    if current == ElderStatus.DECEASED:
        return False
    if wanted == ElderStatus.PAUSED:
        return current in (ElderStatus.ACTIVE, ElderStatus.PAUSED)
    if wanted == ElderStatus.ACTIVE:
        return current in (ElderStatus.PAUSED, ElderStatus.MOVED)
    if wanted == ElderStatus.MOVED:
        return current != ElderStatus.MOVED
    return wanted == ElderStatus.DECEASED


async def open_visit_count(session: AsyncSession, *, elder_id: int) -> int:
    """What leaving would cancel: the elder's planned visits (for the confirmation question)."""
    result = await session.exec(
        select(func.count()).where(col(Visit.elder_id) == elder_id, col(Visit.status) == VisitStatus.PLANNED)
    )
    return int(result.one())


async def mark_left(session: AsyncSession, *, clock: Clock, elder_id: int, status: ElderStatus, actor: str) -> int:
    """Record that the elder moved away or died and cancel their open visits; returns how many were cancelled.

    Raises ElderNotFound, StatusChangeRefused (not a leaving status, or not applicable: a deceased elder stays so).
    Writes an audit entry (`elder.moved` / `elder.deceased`, ids and counts only); does not commit."""
    if status not in LEAVING:
        raise StatusChangeRefused(status)
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFound(elder_id)
    if not may_change(elder.status, status):
        raise StatusChangeRefused(status)
    now = clock.now()
    previous = elder.status
    elder.status = status
    elder.paused_until = None
    elder.updated_at = now
    session.add(elder)
    result = await session.exec(
        update(Visit)
        .where(col(Visit.elder_id) == elder_id, col(Visit.status) == VisitStatus.PLANNED)
        .values(status=VisitStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    cancelled = int(result.rowcount or 0)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action=f"elder.{status.value}",
        entity="elder",
        entity_id=elder_id,
        details={"previous": previous.value, "cancelled": cancelled},
    )
    return cancelled
