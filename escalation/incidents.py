"""Opening, acknowledging and resolving incidents. Entry points (bot, dashboard, CLI) call these; the escalation
engine picks open incidents up from the database by `next_step_at`.

Functions add to the caller's session and do not commit: the caller owns the transaction.
"""

from __future__ import annotations

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from care import audit
from care.clock import Clock
from escalation.policy import EscalationPolicy, snapshot
from storage.enums import IncidentStatus
from storage.models import Incident, IncidentNote


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


async def acknowledge(session: AsyncSession, *, clock: Clock, incident_id: int, by: str, channel: str) -> bool:
    """Record an acknowledgement. The first one wins: returns False (and changes nothing) if it was already
    acknowledged or resolved. Paging stops because the engine only escalates OPEN incidents."""
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
            details={"channel": channel},
        )
    return won


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
