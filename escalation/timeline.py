"""The archive of an incident: everything that happened, in order, for the dashboard, the CLI and exports."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.cells import neutralise
from carevisit.care.phones import mask_phone
from carevisit.escalation.incidents import describe_actor
from carevisit.storage.models import AuditEntry, ChatOutboxMessage, DeliveryEvent, Incident, IncidentNote, OutboxMessage

# Audit actions already shown from the incident's own columns or its notes.
_SHOWN_ELSEWHERE = {"incident.open", "incident.acknowledge", "incident.resolve", "incident.note"}


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    what: str  # opened, queued, status, chat, acknowledged, note, resolved, or an audit action
    who: str = ""
    channel: str = ""
    detail: str = ""
    sid: str = ""
    # The same facts unflattened, so that a reader can word each step in its own language.
    event: str = ""  # opened, queued, status, chat, acknowledged, note, resolved, audit
    purpose: str = ""
    step: int | None = None  # 1-based
    status: str = ""
    to: str = ""  # the masked address
    facts: dict[str, Any] = field(default_factory=dict)


async def incident_timeline(session: AsyncSession, *, incident_id: int) -> list[Entry]:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        return []
    entries = [
        Entry(
            incident.opened_at,
            "opened",
            await describe_actor(session, _reporter(incident)),
            detail=f"{'drill ' if incident.is_drill else ''}{incident.kind}: {incident.description}",
            event="opened",
            facts={"kind": incident.kind, "drill": incident.is_drill, "description": incident.description},
        )
    ]
    rows = (
        await session.exec(
            select(OutboxMessage).where(OutboxMessage.incident_id == incident_id).order_by(col(OutboxMessage.id))
        )
    ).all()
    by_id = {row.id: row for row in rows}
    for row in rows:
        who = await describe_actor(session, _target(row))
        entries.append(
            Entry(
                row.created_at,
                f"queued {row.purpose}" + (f" step {row.step + 1}" if row.step is not None else ""),
                who,
                str(row.channel),
                f"to {mask_phone(row.to_address)}"
                + (f"; {row.error_message}" if row.error_code == "throttled" else ""),
                event="queued",
                purpose=row.purpose,
                step=row.step + 1 if row.step is not None else None,
                to=mask_phone(row.to_address),
                facts={"throttled": row.error_code == "throttled"},
            )
        )
    if by_id:
        events = (
            await session.exec(
                select(DeliveryEvent)
                .where(col(DeliveryEvent.outbox_id).in_(list(by_id)))
                .order_by(col(DeliveryEvent.id))
            )
        ).all()
        for event in events:
            row = by_id[event.outbox_id]
            entries.append(
                Entry(
                    event.at,
                    f"status {event.status}",
                    await describe_actor(session, _target(row)),
                    str(row.channel),
                    " ".join(x for x in (event.error_code or "", event.detail or "") if x),
                    event.provider_sid or row.provider_sid or "",
                    event="status",
                    purpose=row.purpose,
                    step=row.step + 1 if row.step is not None else None,
                    status=str(event.status),
                    to=mask_phone(row.to_address),
                    facts={"error": " ".join(x for x in (event.error_code or "", event.detail or "") if x)},
                )
            )
    chats = (
        await session.exec(
            select(ChatOutboxMessage)
            .where(col(ChatOutboxMessage.idempotency_key).startswith(f"page:{incident_id}:"))
            .order_by(col(ChatOutboxMessage.id))
        )
    ).all()
    for chat in chats:
        parts = chat.idempotency_key.split(":")
        who = await describe_actor(session, f"{parts[3]}:{parts[4]}") if len(parts) >= 5 else ""
        entries.append(
            Entry(
                chat.created_at,
                f"queued page step {int(parts[2]) + 1}",
                who,
                chat.channel,  # the coordinator's chat: Telegram or WeCom
                str(chat.status),
                event="chat",
                purpose="page",
                step=int(parts[2]) + 1,
                status=str(chat.status),
            )
        )
    if incident.acknowledged_at:
        evidence = await _ack_evidence(session, incident_id)
        entries.append(
            Entry(
                incident.acknowledged_at,
                "acknowledged",
                await describe_actor(session, incident.acknowledged_by),
                incident.ack_channel or "",
                detail=f"key {evidence['key']}" if evidence.get("key") else "",
                sid=evidence.get("call_id", ""),
                event="acknowledged",
                facts=evidence,
            )
        )
    notes = (
        await session.exec(
            select(IncidentNote).where(IncidentNote.incident_id == incident_id).order_by(col(IncidentNote.id))
        )
    ).all()
    for note in notes:
        detail = " | ".join(
            f"{label}: {value}"
            for label, value in (
                ("what", note.what_happened),
                ("actions", note.actions_taken),
                ("outcome", note.outcome),
            )
            if value
        )
        facts = {"what": note.what_happened, "actions": note.actions_taken, "outcome": note.outcome}
        entries.append(
            Entry(note.at, "note", await describe_actor(session, note.author), detail=detail, event="note", facts=facts)
        )
    if incident.resolved_at:
        entries.append(
            Entry(
                incident.resolved_at, "resolved", await describe_actor(session, incident.resolved_by), event="resolved"
            )
        )
    audits = (
        await session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity == "incident", AuditEntry.entity_id == incident_id)
            .order_by(col(AuditEntry.id))
        )
    ).all()
    for entry in audits:
        if entry.action in _SHOWN_ELSEWHERE:
            continue
        entries.append(
            Entry(
                entry.at,
                entry.action,
                await describe_actor(session, entry.actor),
                detail=json.dumps(entry.details, ensure_ascii=False) if entry.details else "",
                event="audit",
                facts=dict(entry.details or {}),
            )
        )
    return sorted(entries, key=lambda e: (e.at, _ORDER.get(e.what.split(" ")[0], 1)))


# Within one instant, the natural order of a story.
_ORDER = {"opened": 0, "queued": 2, "status": 3, "acknowledged": 4, "note": 5, "resolved": 6}


def _reporter(incident: Incident) -> str:
    if incident.reporter_volunteer_id:
        return f"volunteer:{incident.reporter_volunteer_id}"
    if incident.reporter_coordinator_id:
        return f"coordinator:{incident.reporter_coordinator_id}"
    return "system"


def _target(row: OutboxMessage) -> str:
    if row.contact_id:
        return f"contact:{row.contact_id}"
    if row.coordinator_id:
        return f"coordinator:{row.coordinator_id}"
    return ""


def as_json(entries: list[Entry]) -> str:
    return json.dumps([asdict(e) | {"at": e.at.isoformat()} for e in entries], ensure_ascii=False, indent=2)


def as_csv(entries: list[Entry], *, zone: ZoneInfo | None = None) -> str:
    """With a zone, times are local to it and the header names it (what a person reading the export expects)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"at ({zone.key})" if zone else "at", "what", "who", "channel", "detail", "sid"])
    for e in entries:
        at = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if zone else e.at.isoformat()
        # A contact's name, a note or a delivery error is whatever someone typed: never a live formula.
        writer.writerow([neutralise(cell) for cell in (at, e.what, e.who, e.channel, e.detail, e.sid)])
    return out.getvalue()


async def _ack_evidence(session: AsyncSession, incident_id: int) -> dict[str, str]:
    """What proved the acknowledgement (a call id and the key pressed), as the acknowledging step recorded it."""
    found = await session.exec(
        select(AuditEntry.details).where(
            AuditEntry.entity == "incident",
            AuditEntry.entity_id == incident_id,
            AuditEntry.action == "incident.acknowledge",
        )
    )
    details = found.first() or {}
    return {k: str(v) for k, v in details.items() if k in ("call_id", "key")}
