"""Recording what became of a message or call: provider statuses ranked, so late callbacks never go backwards,
a provider sid held by one row only, and a failed step moved on early instead of waiting out its timer."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.escalation.decide import should_move_on_early
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import DeliveryEvent, Incident, OutboxMessage

log = logging.getLogger(__name__)

PAGE_PURPOSES = ("page", "drill")
UNCERTAIN = "uncertain"  # error_code of a 'sending' row whose send may or may not have reached the provider
FAILURES = frozenset(
    {
        DeliveryStatus.FAILED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.NO_ANSWER,
        DeliveryStatus.BUSY,
        DeliveryStatus.CANCELED,
    }
)


async def record_status(
    session: AsyncSession,
    *,
    clock: Clock,
    outbox_id: int,
    status: DeliveryStatus,
    sid: str | None = None,
    error_code: str | None = None,
    detail: str | None = None,
) -> bool:
    """Apply a provider status if it ranks above the row's current one; returns whether it applied.

    Records a delivery event for the timeline, and on a failure checks whether the step should move on early.
    Does not commit.
    """
    now = clock.now()
    values: dict[str, object] = {"status": status, "status_rank": status.rank, "last_status_at": now}
    if sid:
        await take_sids(session, now=now, sids={outbox_id: sid})
        values["provider_sid"] = sid
    if error_code:
        error_code = error_code[:32]  # the columns' width: a provider's codes run longer (Tencent's do)
        values["error_code"] = error_code
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == outbox_id, col(OutboxMessage.status_rank) < status.rank)
        .values(**values)
    )
    if not result.rowcount:
        log.debug("outbox %s: status %s ignored (not above the current one)", outbox_id, status)
        return False
    session.add(
        DeliveryEvent(
            outbox_id=outbox_id,
            at=now,
            status=status,
            provider_sid=sid,
            error_code=error_code,
            detail=detail[:500] if detail else None,
        )
    )
    if status in FAILURES:
        await move_on_if_step_failed(session, clock=clock, outbox_id=outbox_id)
    return True


async def take_sids(session: AsyncSession, *, now: datetime, sids: dict[int, str]) -> None:
    """The provider itself named these rows' sids (a create's answer, or a callback to the row's own URL): a row
    that only guessed one of them while reconciling gives it up and goes back to being reconciled."""
    if not sids:
        return
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.provider_sid).in_(list(sids.values())), col(OutboxMessage.id).not_in(list(sids)))
        .values(
            provider_sid=None,
            status=DeliveryStatus.SENDING,
            status_rank=DeliveryStatus.SENDING.rank,
            error_code=UNCERTAIN,
            error_message="the provider record it was reconciled with belongs to another page",
            not_before=now,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )


async def move_on_if_step_failed(session: AsyncSession, *, clock: Clock, outbox_id: int) -> bool:
    """If this row's step is the incident's current one and can no longer reach anyone, make it due now."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None or row.incident_id is None or row.purpose not in PAGE_PURPOSES or row.step is None:
        return False
    await session.refresh(row)
    incident = await session.get(Incident, row.incident_id)
    if incident is None:
        return False
    await session.refresh(incident)
    if incident.status != IncidentStatus.OPEN or incident.step != row.step + 1:
        return False
    siblings = await session.exec(
        select(OutboxMessage.channel, OutboxMessage.status).where(
            OutboxMessage.incident_id == incident.id,
            OutboxMessage.step == row.step,
            col(OutboxMessage.purpose).in_(PAGE_PURPOSES),
        )
    )
    if not should_move_on_early([(Channel(c), DeliveryStatus(s)) for c, s in siblings.all()]):
        return False
    now = clock.now()
    moved = await session.exec(
        update(Incident)
        .where(
            col(Incident.id) == incident.id,
            col(Incident.step) == incident.step,
            col(Incident.status) == IncidentStatus.OPEN,
            col(Incident.next_step_at) > now,
        )
        .values(next_step_at=now)
    )
    if moved.rowcount:
        log.info("incident %s: step %s reached nobody, moving on early", incident.id, row.step + 1)
    return bool(moved.rowcount)
