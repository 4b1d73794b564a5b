"""Pacing each number within the provider's frequency limits (`provider_limits`), before the outbox sends.

Aliyun and Tencent refuse a page to a number that had "too many" lately. A page the limits would refuse now waits
until they allow it — if that is before its step is over (a page after the chain moved on is of no use) — or is
refused here, recorded as `paced`, and the chain moves on. Only pages the provider accepted count as earlier pages
(a refused one was never taken).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlmodel import col, select

from carevisit.escalation.claims import LeasedRow
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import PAGE_PURPOSES
from carevisit.escalation.pager import PermanentError
from carevisit.escalation.provider_limits import next_allowed, refused
from carevisit.storage.enums import Channel, IncidentStatus
from carevisit.storage.models import Incident, OutboxMessage

History = defaultdict[tuple[Channel, str], list[tuple[datetime, str | None]]]


async def pace(
    esc: Escalation, rows: list[LeasedRow]
) -> tuple[list[LeasedRow], list[tuple[LeasedRow, datetime]], list[tuple[LeasedRow, PermanentError]]]:
    """The rows that may go now; those that wait, with when; those refused here, with why."""
    limits = esc.limits
    paced = [r for r in rows if limits.of(r.channel)]
    if not paced:
        return rows, [], []
    now = esc.clock.now()
    history = await _sent_to(esc, {(r.channel, r.to_address) for r in paced}, now)
    deadlines = await _step_ends(esc, {r.incident_id for r in paced if r.purpose in PAGE_PURPOSES})
    go: list[LeasedRow] = []
    waiting: list[tuple[LeasedRow, datetime]] = []
    refusals: list[tuple[LeasedRow, PermanentError]] = []
    for row in rows:
        if row not in paced:
            go.append(row)
            continue
        earlier = history[(row.channel, row.to_address)]
        sent_at = [at for at, _ in earlier]
        same = [at for at, kind in earlier if kind == row.notice_kind]
        when = next_allowed(limits, row.channel, sent_at, now, same=same)
        if when is None:
            go.append(row)
            earlier.append((now, row.notice_kind))  # counts for the round's next row to this number
            continue
        deadline = deadlines.get(row.incident_id or 0) if row.purpose in PAGE_PURPOSES else None
        if deadline is not None and when >= deadline:
            why = refused(limits, row.channel, sent_at, now, same=same) or "the provider's limits"
            refusals.append((row, PermanentError(f"{why}; the step ends before it allows this page", code="paced")))
        else:
            waiting.append((row, when))
    return go, waiting, refusals


async def _sent_to(esc: Escalation, numbers: set[tuple[Channel, str]], now: datetime) -> History:
    """When each number was paged on each channel in the last day (no limit looks further back), and with which
    kind of notice: the pages the provider accepted."""
    found: History = defaultdict(list)
    async with esc.sessions() as session:
        rows = await session.exec(
            select(
                OutboxMessage.channel, OutboxMessage.to_address, OutboxMessage.sent_at, OutboxMessage.notice_kind
            ).where(
                col(OutboxMessage.to_address).in_({to for _, to in numbers}),
                col(OutboxMessage.sent_at) > now - timedelta(hours=25),
            )
        )
        for channel, to, sent_at, kind in rows.all():
            if (Channel(channel), to) in numbers and sent_at is not None:
                found[(Channel(channel), to)].append((sent_at, kind))
    return found


async def _step_ends(esc: Escalation, incident_ids: set[int | None]) -> dict[int, datetime]:
    """When each open incident's current step is over."""
    ids = [i for i in incident_ids if i]
    if not ids:
        return {}
    async with esc.sessions() as session:
        rows = await session.exec(
            select(Incident.id, Incident.next_step_at).where(
                col(Incident.id).in_(ids), Incident.status == IncidentStatus.OPEN
            )
        )
        return {incident_id: at for incident_id, at in rows.all() if incident_id and at}
