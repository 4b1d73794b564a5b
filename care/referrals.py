"""The coordinators' referral queue: problems found on visits, worked until closed (需求转介)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from care import audit
from care.areas import in_subtree
from care.clock import Clock
from storage.enums import IncidentStatus, ProblemCategory, ProblemStatus
from storage.models import Area, Coordinator, Elder, EmergencyContact, Incident, Problem, VolunteerCommunity


class ProblemNotFound(LookupError):
    """No such problem in the caller's area (the same answer whether it exists elsewhere or not at all)."""


class ProblemClosed(ValueError):
    """The problem is already closed; closing records stay as they were written."""


async def open_problems(session: AsyncSession, *, area: Area, limit: int = 200) -> list[tuple[Problem, Elder]]:
    statement = (
        select(Problem, Elder)
        .join(Elder, col(Elder.id) == col(Problem.elder_id))
        .where(
            col(Problem.status) != ProblemStatus.CLOSED,
            col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
        )
        .order_by(col(Problem.urgent).desc(), col(Problem.created_at))
        .limit(limit)
    )
    return [(problem, elder) for problem, elder in (await session.exec(statement)).all()]


async def update_problem(
    session: AsyncSession,
    *,
    clock: Clock,
    area: Area,
    problem_id: int,
    actor: str,
    status: ProblemStatus,
    referred_to: str | None = None,
    resolution: str | None = None,
) -> Problem:
    """Move a problem along the queue (refer, work on, close). Raises ProblemNotFound outside `area`,
    ProblemClosed if already closed, ValueError if closing without a resolution. Does not commit."""
    row = (
        await session.exec(
            select(Problem)
            .join(Elder, col(Elder.id) == col(Problem.elder_id))
            .where(
                col(Problem.id) == problem_id,
                col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
            )
        )
    ).first()
    if row is None:
        raise ProblemNotFound(problem_id)
    if row.status == ProblemStatus.CLOSED:
        raise ProblemClosed(problem_id)
    if status == ProblemStatus.CLOSED and not (resolution or "").strip():
        raise ValueError("closing a problem needs a resolution")
    now = clock.now()
    row.status = status
    row.updated_at = now
    if referred_to:
        row.referred_to = referred_to.strip()
    if status == ProblemStatus.CLOSED:
        row.resolution = (resolution or "").strip()
        row.closed_at = now
    session.add(row)
    audit.record(session, clock=clock, actor=actor, action=f"problem.{status}", entity="problem", entity_id=problem_id)
    return row


class NotAllowed(LookupError):
    """This person may not act on that elder or incident (the same answer whether it exists or not)."""


async def report_problem(
    session: AsyncSession,
    *,
    clock: Clock,
    volunteer_id: int,
    elder_id: int,
    category: ProblemCategory,
    description: str,
    urgent: bool = False,
    visit_id: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Problem:
    """A volunteer files a problem about an elder of one of their communities (raises NotAllowed otherwise).

    It enters the referral queue as OPEN; an urgent one also needs an incident, which the caller opens.
    Attachments are chat file references (`{"kind": "photo", "file_id": ...}`), never the files. Does not commit.
    """
    served = (
        await session.exec(
            select(Elder.id)
            .join(VolunteerCommunity, col(VolunteerCommunity.area_id) == col(Elder.community_id))
            .where(col(Elder.id) == elder_id, col(VolunteerCommunity.volunteer_id) == volunteer_id)
        )
    ).first()
    if served is None:
        raise NotAllowed(elder_id)
    now = clock.now()
    problem = Problem(
        elder_id=elder_id,
        visit_id=visit_id,
        reporter_volunteer_id=volunteer_id,
        category=category,
        description=description.strip(),
        urgent=urgent,
        attachments=attachments or None,
        latitude=latitude,
        longitude=longitude,
        created_at=now,
        updated_at=now,
    )
    session.add(problem)
    await session.flush()
    audit.record(
        session,
        clock=clock,
        actor=f"volunteer:{volunteer_id}",
        action="problem.report",
        entity="problem",
        entity_id=problem.id,
        details={"category": str(category), "urgent": urgent},
    )
    return problem


async def coordinators_over(session: AsyncSession, *, community_id: int) -> list[Coordinator]:
    """Active coordinators linked to a chat whose area contains this community (community, street, district…)."""
    community = await session.get(Area, community_id)
    if community is None:
        return []
    # Area paths are prefixes of their children's: a coordinator's area contains the community when its path is
    # a prefix of the community's.
    coordinators = await session.exec(
        select(Coordinator)
        .join(Area, col(Area.id) == col(Coordinator.area_id))
        .where(
            col(Coordinator.active).is_(True),
            col(Coordinator.telegram_chat_id).is_not(None),
            literal(community.path, String).like(col(Area.path) + "%"),
        )
        .order_by(col(Coordinator.id))
    )
    return list(coordinators.all())


async def emergency_contacts(session: AsyncSession, *, elder_id: int) -> list[EmergencyContact]:
    result = await session.exec(
        select(EmergencyContact).where(EmergencyContact.elder_id == elder_id).order_by(col(EmergencyContact.position))
    )
    return list(result.all())


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
