"""Opening, acknowledging and resolving incidents. Entry points (bot, dashboard, CLI) call these; the escalation
engine picks open incidents up from the database by `next_step_at`.

Functions add to the caller's session and do not commit: the caller owns the transaction.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit, outbound
from carevisit.care.access import NotAllowed
from carevisit.care.clock import Clock
from carevisit.care.people import chat_recipient
from carevisit.escalation import texts
from carevisit.escalation.policy import EscalationPolicy, snapshot
from carevisit.storage.enums import Channel, CoordinatorRole, DeliveryStatus, IncidentStatus
from carevisit.storage.models import (
    Coordinator,
    Elder,
    EmergencyContact,
    Incident,
    IncidentNote,
    OutboxMessage,
    Volunteer,
)

log = logging.getLogger(__name__)


class IncidentError(ValueError):
    """A request about an incident that cannot be honoured; the message says why."""


async def open_incident(
    session: AsyncSession,
    *,
    clock: Clock,
    policy: EscalationPolicy,
    elder_id: int,
    kind: str,
    description: str = "",
    reporter_volunteer_id: int | None = None,
    reporter_coordinator_id: int | None = None,
    visit_id: int | None = None,
    problem_id: int | None = None,
    is_drill: bool = False,
) -> Incident:
    """Open an incident with the policy frozen into it, due for its first step now."""
    now = clock.now()
    incident = Incident(
        elder_id=elder_id,
        kind=kind,
        description=description,
        reporter_volunteer_id=reporter_volunteer_id,
        reporter_coordinator_id=reporter_coordinator_id,
        visit_id=visit_id,
        problem_id=problem_id,
        is_drill=is_drill,
        policy=snapshot(policy),
        step=0,
        next_step_at=now,
        opened_at=now,
    )
    session.add(incident)
    await session.flush()
    actor = _actor(reporter_volunteer_id, reporter_coordinator_id)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="incident.open",
        entity="incident",
        entity_id=incident.id,
        details={"kind": kind, "drill": is_drill},
    )
    return incident


async def acknowledge(
    session: AsyncSession,
    *,
    clock: Clock,
    incident_id: int,
    by: str,
    channel: str,
    language: str = "zh_CN",
    evidence: dict[str, str] | None = None,
) -> bool:
    """Record an acknowledgement. The first one wins: returns False (and changes nothing) if it was already
    acknowledged or resolved. Paging stops because the engine only escalates OPEN incidents, and the outbox
    worker cancels pages not yet sent. The reporting volunteer is told in the bot (a chat_outbox row).

    `by` is "contact:ID", "coordinator:ID" or "volunteer:ID"; `channel` is link, voice, sms, code, dashboard or
    bot; `evidence` is what proves it (a call id and key), kept in the audit entry for the timeline.
    Raises NotAllowed (changing nothing) for a coordinator who is a viewer or no longer active: read-only
    accounts are never paged and may not acknowledge, whatever the entry point."""
    await _may_acknowledge(session, by=by, incident_id=incident_id)
    result = await session.exec(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.status) == IncidentStatus.OPEN)
        .values(
            status=IncidentStatus.ACKNOWLEDGED,
            acknowledged_at=clock.now(),
            acknowledged_by=by,
            ack_channel=channel,
            next_step_at=None,
        )
    )
    won = bool(result.rowcount)
    if won:
        audit.record(
            session,
            clock=clock,
            actor=by,
            action="incident.acknowledge",
            entity="incident",
            entity_id=incident_id,
            details={"channel": channel, **(evidence or {})},
        )
        await _tell_reporter_acknowledged(
            session, clock=clock, incident_id=incident_id, by=by, channel=channel, language=language
        )
    return won


async def _may_acknowledge(session: AsyncSession, *, by: str, incident_id: int) -> None:
    kind, _, raw_id = by.partition(":")
    if kind != "coordinator" or not raw_id.isdigit():
        return
    coordinator = await session.get(Coordinator, int(raw_id))
    if coordinator is None or not coordinator.active or coordinator.role == CoordinatorRole.VIEWER:
        raise NotAllowed(incident_id)


async def describe_actor(session: AsyncSession, actor: str | None) -> str:
    """'contact:3' → the contact's name and relation, for the volunteer and the archive (never for logs)."""
    if not actor or ":" not in actor:
        return actor or ""
    kind, _, raw_id = actor.partition(":")
    if not raw_id.isdigit():
        return actor
    models: dict[str, Any] = {"contact": EmergencyContact, "coordinator": Coordinator, "volunteer": Volunteer}
    model = models.get(kind)
    if model is None:
        return actor
    row = await session.get(model, int(raw_id))
    if row is None:
        return actor
    relation = getattr(row, "relation", "")
    return f"{row.name}（{relation}）" if relation else row.name


async def _tell_reporter_acknowledged(
    session: AsyncSession, *, clock: Clock, incident_id: int, by: str, channel: str, language: str
) -> None:
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.reporter_volunteer_id is None:
        return
    volunteer = await session.get(Volunteer, incident.reporter_volunteer_id)
    to = chat_recipient(volunteer) if volunteer is not None else None
    if volunteer is None or to is None:
        return
    lang = texts.language_of(volunteer.language, language)
    channel_label = texts.channel_label(lang, channel)
    await outbound.enqueue(
        session,
        clock=clock,
        key=f"incident:{incident_id}:acknowledged",
        to=to,
        text=html.escape(
            texts.text(
                lang,
                "reporter_acked",
                incident=incident_id,
                who=await describe_actor(session, by),
                channel=channel_label,
            ),
            quote=False,
        ),
        link=f"/v/incidents/{incident_id}",  # the app's live status of the emergency (WeCom opens it signed in)
    )


async def resolve(
    session: AsyncSession,
    *,
    clock: Clock,
    incident_id: int,
    by: str,
    what_happened: str,
    actions_taken: str,
    outcome: str,
    language: str = "zh_CN",
) -> Incident:
    """Close an incident with its handling record (事后处置记录); an open one also stops paging.

    The emergency contacts who were paged by SMS get a short all-clear (outbox rows, sent by the worker).
    Raises IncidentError (changing nothing) if the incident is unknown, already resolved, or the record is empty.
    Does not commit.
    """
    if not outcome.strip():
        raise IncidentError("the handling record needs an outcome")
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(f"no incident #{incident_id}")
    now = clock.now()
    result = await session.exec(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.status) != IncidentStatus.RESOLVED)
        .values(status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by=by, next_step_at=None)
    )
    if not result.rowcount:
        raise IncidentError(f"incident #{incident_id} is already resolved")
    add_note(
        session,
        clock=clock,
        incident_id=incident_id,
        author=by,
        what_happened=what_happened.strip(),
        actions_taken=actions_taken.strip(),
        outcome=outcome.strip(),
    )
    audit.record(session, clock=clock, actor=by, action="incident.resolve", entity="incident", entity_id=incident_id)
    await _queue_all_clear(session, clock=clock, incident=incident, language=language)
    await session.refresh(incident)
    return incident


async def _queue_all_clear(session: AsyncSession, *, clock: Clock, incident: Incident, language: str) -> None:
    """One short SMS per number that was paged by SMS and got it (or may have); calls-only numbers get none.

    "May have": a page text still `sending` — its request under way, or answered by a timeout or a 5xx and not yet
    reconciled — may well be on the phone (its link may be what acknowledged), so it counts. A text that certainly
    never reached the provider (pending, or refused as not processed) does not."""
    paged = await session.exec(
        select(OutboxMessage).where(
            OutboxMessage.incident_id == incident.id,
            col(OutboxMessage.purpose).in_(("page", "drill")),
            OutboxMessage.channel == Channel.SMS,
            col(OutboxMessage.provider_sid).is_not(None) | (OutboxMessage.status == DeliveryStatus.SENDING),
        )
    )
    elder = await session.get(Elder, incident.elder_id)
    now = clock.now()
    seen: set[str] = set()
    for row in paged.all():
        if row.to_address in seen or row.status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
            continue
        seen.add(row.to_address)
        contact = await session.get(EmergencyContact, row.contact_id) if row.contact_id else None
        coordinator = await session.get(Coordinator, row.coordinator_id) if row.coordinator_id else None
        preferred = (contact.language if contact else None) or (coordinator.language if coordinator else None)
        lang = texts.language_of(preferred, language)
        key = f"all_clear:{incident.id}:{row.to_address}"
        exists = await session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
        if exists.first() is not None:
            continue
        session.add(
            OutboxMessage(
                idempotency_key=key,
                purpose="all_clear",
                incident_id=incident.id,
                contact_id=row.contact_id,
                coordinator_id=row.coordinator_id,
                channel=Channel.SMS,
                to_address=row.to_address,
                body=texts.all_clear(lang, elder=elder.name if elder else "", drill=incident.is_drill),
                notice_kind="all_clear",
                notice_params={"name": elder.name if elder else ""},
                not_before=now,
                created_at=now,
            )
        )


def add_note(
    session: AsyncSession,
    *,
    clock: Clock,
    incident_id: int,
    author: str,
    what_happened: str = "",
    actions_taken: str = "",
    outcome: str = "",
) -> IncidentNote:
    """Add to the handling record (事后处置记录); notes are never edited, only added."""
    note = IncidentNote(
        incident_id=incident_id,
        at=clock.now(),
        author=author,
        what_happened=what_happened,
        actions_taken=actions_taken,
        outcome=outcome,
    )
    session.add(note)
    audit.record(session, clock=clock, actor=author, action="incident.note", entity="incident", entity_id=incident_id)
    return note


def _actor(volunteer_id: int | None, coordinator_id: int | None) -> str:
    if volunteer_id is not None:
        return f"volunteer:{volunteer_id}"
    if coordinator_id is not None:
        return f"coordinator:{coordinator_id}"
    return "system"
