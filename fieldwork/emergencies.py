"""Raising an emergency for an elder, the same way from every entry point (the SOS button, an urgent visit outcome,
an urgent problem report): one incident per elder at a time, a new one announced to the area's coordinators.

The incident is added to the caller's transaction, not committed, so it is written together with what raised it;
the entry point then shows the volunteer the emergency numbers and the elder's contacts (`Raised` carries them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.people import emergency_contacts
from carevisit.escalation.incident_queries import unresolved_incident
from carevisit.escalation.incidents import open_incident
from carevisit.fieldwork import notices
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.models import Elder, EmergencyContact, Incident, Volunteer


@dataclass(frozen=True, slots=True)
class Raised:
    """An emergency raised for an elder: the incident opened now, or the unresolved one it joined."""

    incident: Incident
    elder: Elder
    joined: bool
    contacts: list[EmergencyContact]  # read with it, so showing them needs nothing more of the database


async def raise_emergency(
    session: AsyncSession,
    ctx: FieldContext,
    *,
    volunteer: Volunteer,
    elder: Elder,
    visit_id: int | None = None,
    problem_id: int | None = None,
    description: str = "",
    kind: str = "urgent",
) -> Raised:
    """Open an incident for the elder, or join the unresolved one. The caller has checked that the volunteer
    serves the elder. Adds to the session, never commits."""
    assert elder.id is not None
    contacts = await emergency_contacts(session, elder_id=elder.id)
    incident = await unresolved_incident(session, elder_id=elder.id)
    if incident is not None:
        return Raised(incident, elder, joined=True, contacts=contacts)
    incident = await open_incident(
        session,
        clock=ctx.clock,
        policy=ctx.policy,
        elder_id=elder.id,
        kind=kind,
        description=description,
        reporter_volunteer_id=volunteer.id,
        visit_id=visit_id,
        problem_id=problem_id,
        is_drill=ctx.drill,
    )
    await notices.incident_to_coordinators(session, ctx, incident=incident, elder=elder)
    return Raised(incident, elder, joined=False, contacts=contacts)
