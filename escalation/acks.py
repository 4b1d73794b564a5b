"""The ways an acknowledgement arrives, each turned into `incidents.acknowledge` calls: a keypress in the page
call, a signed link, a one-time code typed on `/a`, an SMS reply from a paged number. Also STOP/退订 opt-outs.

An acknowledgement counts only for pages it can be tied to. A keypress belongs to the call placed for one outbox
row (its TwiML URL names the row, and Twilio signs the URL). A reply belongs to the open incidents that paged that
very number in the last `REPLY_WINDOW`: a number paged for two open emergencies (two elders sharing a daughter)
acknowledges both with one `1`, and the confirmation names both elders. Replays of a signed Twilio request are
stopped before they get here (`receipts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.access import NotAllowed
from carevisit.care.clock import Clock
from carevisit.care.phones import mask_phone
from carevisit.escalation import incidents
from carevisit.escalation.decide import classify_reply
from carevisit.escalation.delivery import PAGE_PURPOSES
from carevisit.escalation.tokens import AckToken
from carevisit.storage.enums import DeliveryStatus, IncidentStatus
from carevisit.storage.models import AckCode, Coordinator, Elder, EmergencyContact, Incident, OutboxMessage

log = logging.getLogger(__name__)

# A reply acknowledges only pages sent to that number within this window.
REPLY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class AckOutcome:
    incident: Incident | None
    won: bool  # this acknowledgement was the first
    by: str = ""  # who holds the acknowledgement (this one or an earlier one)


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What an inbound SMS did."""

    meaning: str | None  # 'ack' | 'stop' | None (ignored)
    acknowledged: list[str] = field(default_factory=list)  # the elders whose emergencies this reply acknowledged
    already: bool = False  # the number was paged recently, but those emergencies are already in hand
    language: str | None = None  # the paged person's own, for the confirmation


def _actor_of(row: OutboxMessage) -> str:
    if row.contact_id is not None:
        return f"contact:{row.contact_id}"
    if row.coordinator_id is not None:
        return f"coordinator:{row.coordinator_id}"
    return f"phone:{mask_phone(row.to_address)}"


async def by_token(session: AsyncSession, *, clock: Clock, token: AckToken, language: str) -> AckOutcome:
    """The signed link was pressed. The token was verified by the caller; the incident may be gone or done."""
    incident = await session.get(Incident, token.incident_id)
    if incident is None:
        return AckOutcome(None, False)
    return await _acknowledge(session, clock, incident, token.actor, "link", language)


async def by_code(session: AsyncSession, *, clock: Clock, row: AckCode, language: str) -> AckOutcome:
    """A live one-time code was entered on `/a` and its button pressed (the caller found and counted the code).
    Acknowledges as the person the code was made for; a later use after someone else's acknowledgement is kept in
    the incident's record too. The code itself is recorded nowhere."""
    incident = await session.get(Incident, row.incident_id)
    if incident is None:
        return AckOutcome(None, False)
    actor = f"{row.who_kind}:{row.who_id}"
    # The evidence is which code row was used (whose code, issued when), never the code.
    evidence = {"ack_code_id": str(row.id)}
    outcome = await _acknowledge(session, clock, incident, actor, "code", language, evidence)
    if row.used_at is None:
        await session.exec(
            update(AckCode).where(col(AckCode.id) == row.id, col(AckCode.used_at).is_(None)).values(used_at=clock.now())
        )
    if not outcome.won:
        audit.record(
            session,
            clock=clock,
            actor=actor,
            action="incident.ack_code_late",
            entity="incident",
            entity_id=incident.id,
            details={"channel": "code", **evidence},
        )
    return outcome


async def by_keypress(
    session: AsyncSession, *, clock: Clock, outbox_id: int, language: str, evidence: dict[str, str] | None = None
) -> AckOutcome:
    """Digit 1 in the page call placed for this outbox row; `evidence` (call id, key) goes into the timeline."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None or row.incident_id is None:
        return AckOutcome(None, False)
    incident = await session.get(Incident, row.incident_id)
    if incident is None:
        return AckOutcome(None, False)
    return await _acknowledge(session, clock, incident, _actor_of(row), "voice", language, evidence)


async def by_reply(session: AsyncSession, *, clock: Clock, from_number: str, body: str, language: str) -> ReplyOutcome:
    """An inbound SMS: 1/OK/收到 acknowledges every open incident that paged this very number in the last
    24 hours (each reporter is told); STOP/退订 opts out of family reports; anything else changes nothing."""
    meaning = classify_reply(body)
    if meaning == "stop":
        await opt_out(session, clock=clock, phone=from_number)
        return ReplyOutcome(meaning)
    if meaning != "ack":
        return ReplyOutcome(None)
    now = clock.now()
    pages = await _recent_pages_to(session, from_number, now)
    if not pages:
        log.info("SMS reply from %s matches no page; ignored", mask_phone(from_number))
        return ReplyOutcome(meaning)
    elders: list[str] = []
    for incident, row in pages:
        if incident.status != IncidentStatus.OPEN:
            continue
        try:
            outcome = await _acknowledge(session, clock, incident, _actor_of(row), "sms", language)
        except NotAllowed:  # paged as a coordinator who has since become read-only
            continue
        if outcome.won:
            elder = await session.get(Elder, incident.elder_id)
            elders.append(elder.name if elder else "")
    own_language = await _language_of(session, pages[0][1])
    return ReplyOutcome(meaning, acknowledged=elders, already=not elders, language=own_language)


async def opt_out(session: AsyncSession, *, clock: Clock, phone: str) -> int:
    """STOP/退订: no more family visit reports to this number (emergency pages still go). Returns contacts changed."""
    result = await session.exec(
        update(EmergencyContact)
        .where(col(EmergencyContact.phone) == phone, col(EmergencyContact.opted_out_at).is_(None))
        .values(sms_opt_in=False, opted_out_at=clock.now())
    )
    if result.rowcount:
        audit.record(
            session, clock=clock, actor=f"phone:{mask_phone(phone)}", action="contact.opt_out", entity="contact"
        )
    return int(result.rowcount or 0)


async def _recent_pages_to(session: AsyncSession, phone: str, now: datetime) -> list[tuple[Incident, OutboxMessage]]:
    """Each incident that paged `phone` in the window, with its latest page to it, newest first."""
    rows = await session.exec(
        select(Incident, OutboxMessage)
        .join(Incident, col(Incident.id) == col(OutboxMessage.incident_id))
        .where(
            OutboxMessage.to_address == phone,
            col(OutboxMessage.purpose).in_(PAGE_PURPOSES),
            # Sent — or still `sending`: the provider may have delivered the SMS while the rest of its round
            # (the call) is still being placed, and the reply must not be lost for want of a recorded sid.
            or_(col(OutboxMessage.provider_sid).is_not(None), col(OutboxMessage.status) == DeliveryStatus.SENDING),
            col(OutboxMessage.created_at) >= now - REPLY_WINDOW,
        )
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
    )
    latest: dict[int, tuple[Incident, OutboxMessage]] = {}
    for incident, row in rows.all():
        latest.setdefault(incident.id or 0, (incident, row))
    return list(latest.values())


async def _language_of(session: AsyncSession, row: OutboxMessage) -> str | None:
    if row.contact_id is not None:
        contact = await session.get(EmergencyContact, row.contact_id)
        return contact.language if contact else None
    if row.coordinator_id is not None:
        coordinator = await session.get(Coordinator, row.coordinator_id)
        return coordinator.language if coordinator else None
    return None


async def _acknowledge(
    session: AsyncSession,
    clock: Clock,
    incident: Incident,
    actor: str,
    channel: str,
    language: str,
    evidence: dict[str, str] | None = None,
) -> AckOutcome:
    assert incident.id is not None
    won = await incidents.acknowledge(
        session, clock=clock, incident_id=incident.id, by=actor, channel=channel, language=language, evidence=evidence
    )
    await session.refresh(incident)
    return AckOutcome(incident, won, incident.acknowledged_by or incident.resolved_by or "")
