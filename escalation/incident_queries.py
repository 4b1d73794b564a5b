"""Finding an incident for someone who may act on it: its reporter, or a coordinator of its area."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import NotAllowed
from carevisit.care.areas import in_subtree
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Area, Elder, Incident


async def incident_reported_by(session: AsyncSession, *, incident_id: int, volunteer_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.reporter_volunteer_id != volunteer_id:
        raise NotAllowed(incident_id)
    return incident


async def incident_in_area(session: AsyncSession, *, incident_id: int, area: Area) -> tuple[Incident, Elder]:
    row = (
        await session.exec(
            select(Incident, Elder)
            .join(Elder, col(Elder.id) == col(Incident.elder_id))
            .where(
                col(Incident.id) == incident_id,
                col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
            )
        )
    ).first()
    if row is None:
        raise NotAllowed(incident_id)
    return row[0], row[1]


async def unresolved_incident(session: AsyncSession, *, elder_id: int) -> Incident | None:
    """An emergency for this elder still being handled: a second SOS joins it instead of paging everyone again."""
    result = await session.exec(
        select(Incident)
        .where(Incident.elder_id == elder_id, col(Incident.status) != IncidentStatus.RESOLVED)
        .order_by(col(Incident.id).desc())
    )
    return result.first()
