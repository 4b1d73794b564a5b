"""The ways an acknowledgement arrives, each turned into one `incidents.acknowledge` call:
a keypress in the page call, a signed link, an SMS reply from a paged number. Also STOP/退订 opt-outs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.care.phones import mask_phone
from carevisit.escalation import incidents
from carevisit.escalation.decide import classify_reply
from carevisit.escalation.tokens import AckToken
from carevisit.storage.enums import DeliveryStatus, IncidentStatus
from carevisit.storage.models import EmergencyContact, Incident, OutboxMessage

log = logging.getLogger(__name__)

# A reply acknowledges only pages sent to that number within this window.
REPLY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class AckOutcome:
    incident: Incident | None
    won: bool  # this acknowledgement was the first
    by: str = ""  # who holds the acknowledgement (this one or an earlier one)


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


async def by_keypress(session: AsyncSession, *, clock: Clock, outbox_id: int, language: str) -> AckOutcome:
    """Digit 1 in the page call placed for this outbox row."""
    row = await session.get(OutboxMessage, outbox_id)
    if row is None or row.incident_id is None:
        return AckOutcome(None, False)
    incident = await session.get(Incident, row.incident_id)
    if incident is None:
        return AckOutcome(None, False)
    return await _acknowledge(session, clock, incident, _actor_of(row), "voice", language)


async def by_reply(
    session: AsyncSession, *, clock: Clock, from_number: str, body: str, language: str
) -> tuple[str | None, AckOutcome | None]:
    """An inbound SMS. Returns (what it was: 'ack' | 'stop' | None, the acknowledgement if any).

    A reply acknowledges the newest open incident that paged this very number in the last 24 hours; from any
    other number it changes nothing."""
    meaning = classify_reply(body)
    if meaning == "stop":
        await opt_out(session, clock=clock, phone=from_number)
        return meaning, None
    if meaning != "ack":
        return None, None
    row = await _latest_open_page_to(session, from_number, clock.now())
    if row is None:
        log.info("SMS reply from %s matches no open page; ignored", mask_phone(from_number))
        return meaning, None
    incident = await session.get(Incident, row.incident_id)
    assert incident is not None
    return meaning, await _acknowledge(session, clock, incident, _actor_of(row), "sms", language)


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


async def _latest_open_page_to(session: AsyncSession, phone: str, now: datetime) -> OutboxMessage | None:
    rows = await session.exec(
        select(OutboxMessage)
        .join(Incident, col(Incident.id) == col(OutboxMessage.incident_id))
        .where(
            OutboxMessage.to_address == phone,
            col(OutboxMessage.purpose).in_(("page", "drill")),
            # Sent — or still `sending`: the provider may have delivered the SMS while the rest of its round
            # (the call) is still being placed, and the reply must not be lost for want of a recorded sid.
            or_(col(OutboxMessage.provider_sid).is_not(None), col(OutboxMessage.status) == DeliveryStatus.SENDING),
            col(OutboxMessage.created_at) >= now - REPLY_WINDOW,
            Incident.status == IncidentStatus.OPEN,
        )
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .limit(1)
    )
    return rows.first()


async def _acknowledge(
    session: AsyncSession, clock: Clock, incident: Incident, actor: str, channel: str, language: str
) -> AckOutcome:
    assert incident.id is not None
    won = await incidents.acknowledge(
        session, clock=clock, incident_id=incident.id, by=actor, channel=channel, language=language
    )
    await session.refresh(incident)
    return AckOutcome(incident, won, incident.acknowledged_by or incident.resolved_by or "")
