"""How a worker claims due incidents and outbox rows, so any number of processes share the work and none sends twice.

- **Incidents**: the engine does a step's whole work in one short transaction, so the claim is a lock held for
  exactly that transaction: `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL (another process takes the next
  incidents instead of waiting), and on SQLite a write first, which takes the database's one write lock, so the
  due set read next is current and no other process's cycle interleaves. A process that dies mid-cycle leaves
  nothing behind: its transaction is rolled back and the incidents are due again at once.
- **Outbox rows**: the provider call happens outside any transaction, so a row is leased: marked `sending` with
  `lease_owner`/`lease_until`, committed before the call, renewed while it runs. The claiming statement is one
  `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)` on PostgreSQL; on SQLite the same statement without
  the lock clause, which the single writer serialises. Rows are taken from another worker only once its lease
  has expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, false
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.escalation.delivery import PAGE_PURPOSES
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import Incident, OutboxMessage

PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)


@dataclass(frozen=True, slots=True)
class LeasedRow:
    """What a worker needs of an outbox row it holds: read as plain columns, not ORM objects — a flood's hundreds
    of pages must not wait for object construction."""

    id: int
    purpose: str
    incident_id: int | None
    channel: Channel
    to_address: str
    body: str
    notice_kind: str | None
    notice_params: dict[str, str] | None
    attempts: int
    not_before: datetime
    created_at: datetime
    sending_started_at: datetime | None
    provider_sid: str | None

    @classmethod
    def of(cls, row: Any) -> LeasedRow:
        return cls(*(getattr(row, name) for name in LEASED_COLUMNS))


LEASED_COLUMNS = tuple(LeasedRow.__dataclass_fields__)


async def leased_rows(session: AsyncSession, ids: Sequence[int]) -> list[LeasedRow]:
    return await _leased_where(session, "id", list(ids))


async def leased_rows_by_key(session: AsyncSession, keys: Sequence[str]) -> list[LeasedRow]:
    return await _leased_where(session, "idempotency_key", list(keys))


async def _leased_where(session: AsyncSession, column: str, values: list[Any]) -> list[LeasedRow]:
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in LEASED_COLUMNS]
    found = await session.exec(select(*columns).where(table.c[column].in_(values)))  # type: ignore[call-overload]
    return [LeasedRow.of(row) for row in found.all()]


WAITING = (DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)


def is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


def skip_locked(session: AsyncSession, query: Select[Any]) -> Select[Any]:
    """On PostgreSQL, lock the rows read and pass over those another transaction holds."""
    return query.with_for_update(skip_locked=True) if is_postgres(session) else query


def _due(now: datetime) -> Select[Any]:
    return select(Incident).where(_is_due(now)).order_by(col(Incident.next_step_at), col(Incident.id))


def _is_due(now: datetime) -> Any:
    return (col(Incident.status) == IncidentStatus.OPEN) & (col(Incident.next_step_at) <= now)


async def claim_due_incidents(
    session: AsyncSession, *, now: datetime, limit: int, incident_id: int | None = None
) -> list[Incident]:
    """The due open incidents this transaction may step, locked until it ends (see the module's note)."""
    query = _due(now).limit(limit)
    if incident_id is not None:
        query = query.where(col(Incident.id) == incident_id)
    if is_postgres(session):
        return list((await session.exec(query.with_for_update(skip_locked=True, of=Incident))).all())
    exists = await session.exec(select(Incident.id).where(_is_due(now)).limit(1))
    if exists.first() is None:
        return []  # nothing due: no write lock taken on an idle cycle
    # A write that matches nothing still takes SQLite's write lock: the due set read under it is current.
    await session.exec(
        update(Incident).where(false()).values(step=Incident.step).execution_options(synchronize_session=False)
    )
    return list((await session.exec(query)).all())


async def claim_due_rows(
    session: AsyncSession,
    *,
    now: datetime,
    owner: str,
    lease: timedelta,
    limit: int,
    channels: Sequence[Channel] = PHONE_CHANNELS,
) -> list[int]:
    """Lease up to `limit` due rows of `channels` for sending: marked `sending` with this owner. Pages of
    incidents no longer open are not taken. Does not commit."""
    open_incidents = select(Incident.id).where(Incident.status == IncidentStatus.OPEN)
    due = skip_locked(
        session,
        select(OutboxMessage.id)
        .where(
            col(OutboxMessage.status).in_(WAITING),
            col(OutboxMessage.channel).in_(list(channels)),
            col(OutboxMessage.not_before) <= now,
            col(OutboxMessage.purpose).not_in(PAGE_PURPOSES) | col(OutboxMessage.incident_id).in_(open_incidents),
        )
        .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
        .limit(limit),
    )
    return await _lease(
        session,
        due,
        waiting=WAITING,
        values={
            "status": DeliveryStatus.SENDING,
            "status_rank": DeliveryStatus.SENDING.rank,
            "sending_started_at": now,
            "attempts": col(OutboxMessage.attempts) + 1,
            "error_code": None,
            "lease_owner": owner,
            "lease_until": now + lease,
        },
    )


def _stale(now: datetime) -> Any:
    """A 'sending' row to ask the provider about: uncertain and due for a check (it holds no lease), or leased
    by a worker whose lease expired (it died mid-send)."""
    return (
        (col(OutboxMessage.status) == DeliveryStatus.SENDING)
        & col(OutboxMessage.channel).in_(PHONE_CHANNELS)
        & (
            (col(OutboxMessage.lease_until).is_(None) & (col(OutboxMessage.not_before) <= now))
            | (col(OutboxMessage.lease_until) <= now)
        )
    )


async def anything_due(session: AsyncSession, *, now: datetime) -> bool:
    """Whether any SMS or call row is due to be sent or checked: a read, so an idle worker writes nothing."""
    due = (
        col(OutboxMessage.status).in_(WAITING)
        & col(OutboxMessage.channel).in_(PHONE_CHANNELS)
        & (col(OutboxMessage.not_before) <= now)
    )
    found = await session.exec(select(OutboxMessage.id).where(due | _stale(now)).limit(1))
    return found.first() is not None


async def claim_stale_rows(
    session: AsyncSession, *, now: datetime, owner: str, lease: timedelta, limit: int
) -> list[int]:
    """Lease rows left `sending` that need asking the provider about: uncertain ones due for a check (they hold
    no lease), and those whose owner's lease expired (it died mid-send). Never a row a live worker is sending.
    Does not commit."""
    stale = skip_locked(
        session,
        select(OutboxMessage.id).where(_stale(now)).order_by(col(OutboxMessage.id)).limit(limit),
    )
    return await _lease(
        session, stale, waiting=(DeliveryStatus.SENDING,), values={"lease_owner": owner, "lease_until": now + lease}
    )


async def cancel_stopped_pages(session: AsyncSession) -> None:
    """Pages still waiting to be sent for incidents acknowledged or resolved meanwhile: canceled, never sent."""
    stopped = skip_locked(
        session,
        select(OutboxMessage.id).where(
            col(OutboxMessage.status).in_(WAITING),
            col(OutboxMessage.purpose).in_(PAGE_PURPOSES),
            col(OutboxMessage.incident_id).in_(select(Incident.id).where(Incident.status != IncidentStatus.OPEN)),
        ),
    )
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(stopped.scalar_subquery()), col(OutboxMessage.status).in_(WAITING))
        .values(**STOPPED)
        .execution_options(synchronize_session=False)
    )


# What a page that is no longer needed becomes.
STOPPED: dict[str, Any] = {
    "status": DeliveryStatus.CANCELED,
    "status_rank": DeliveryStatus.CANCELED.rank,
    "error_code": "stopped",
    "error_message": "the incident was acknowledged or resolved before this was sent",
    "lease_until": None,
}


async def renew_leases(session: AsyncSession, *, ids: Sequence[int], owner: str, until: datetime) -> None:
    await session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(list(ids)),
            OutboxMessage.status == DeliveryStatus.SENDING,
            OutboxMessage.lease_owner == owner,
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


async def _lease(
    session: AsyncSession, ids: Select[Any], *, waiting: Sequence[DeliveryStatus], values: dict[str, Any]
) -> list[int]:
    claimed = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(ids.scalar_subquery()), col(OutboxMessage.status).in_(list(waiting)))
        .values(**values)
        .returning(col(OutboxMessage.id))
        .execution_options(synchronize_session=False)
    )
    return [row[0] for row in claimed.all()]
