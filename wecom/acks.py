"""A tap on a card's Acknowledge button as an authenticated acknowledgement.

The tap arrives inside WeCom's encryption with the member's userid (only WeCom holds the Token and the AES key), so
the userid is who tapped. It acknowledges when that userid is linked to an active coordinator who is not a viewer
and whose area contains the incident's elder — the same rules as the bot's button and the dashboard. Anyone else's
tap changes nothing, and the card is told why.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import NotAllowed, coordinator_area
from carevisit.care.clock import Clock
from carevisit.escalation.incident_queries import incident_in_area
from carevisit.escalation.incidents import acknowledge
from carevisit.fieldwork.notices import incident_of_ack  # the Acknowledge button's data, as every channel writes it
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Coordinator, Incident
from carevisit.wecom.events import TemplateCardEvent


class TapOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already"  # acknowledged before (by this coordinator, or someone else), or resolved
    NOT_ALLOWED = "not_allowed"  # a stranger, a viewer, another area's coordinator
    NOT_AN_ACK = "not_an_ack"  # some other button


# What the tapped card's buttons are replaced with (update_template_card's replace_name).
CARD_AFTER: dict[TapOutcome, str] = {
    TapOutcome.ACKNOWLEDGED: "已确认",
    TapOutcome.ALREADY: "已由他人确认",
    TapOutcome.NOT_ALLOWED: "无权确认",
}
ALREADY_BY_YOU = "已确认"


async def on_card_tap(
    session: AsyncSession, *, clock: Clock, event: TemplateCardEvent, language: str = "zh_CN"
) -> tuple[TapOutcome, str | None]:
    """Acknowledge the incident the tapped button names, if the member may; returns the outcome and what the
    card's buttons should now say (None: leave the card alone). Adds to the session, does not commit."""
    incident_id = incident_of_ack(event.event_key)
    if incident_id is None:
        return TapOutcome.NOT_AN_ACK, None
    coordinator = (await session.exec(select(Coordinator).where(col(Coordinator.wecom_userid) == event.userid))).first()
    if coordinator is None or not coordinator.active or coordinator.role == CoordinatorRole.VIEWER:
        return TapOutcome.NOT_ALLOWED, CARD_AFTER[TapOutcome.NOT_ALLOWED]
    by = f"coordinator:{coordinator.id}"
    try:
        await incident_in_area(
            session, incident_id=incident_id, area=await coordinator_area(session, coordinator=coordinator)
        )
        won = await acknowledge(
            session,
            clock=clock,
            incident_id=incident_id,
            by=by,
            channel="wecom",
            language=language,
            evidence={"wecom_userid": event.userid, "task_id": event.task_id},
        )
    except NotAllowed:
        return TapOutcome.NOT_ALLOWED, CARD_AFTER[TapOutcome.NOT_ALLOWED]
    if won:
        return TapOutcome.ACKNOWLEDGED, CARD_AFTER[TapOutcome.ACKNOWLEDGED]
    incident = await session.get(Incident, incident_id)
    mine = incident is not None and incident.acknowledged_by == by
    return TapOutcome.ALREADY, ALREADY_BY_YOU if mine else CARD_AFTER[TapOutcome.ALREADY]
