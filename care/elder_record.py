"""Everything the elder's page shows about one elder, loaded in a fixed handful of queries whatever the history's
length: the elder in their community, the areas above it, contacts, recent visits with who made them, problems
and incidents. An elder outside the coordinator's area is not found, exactly like one that does not exist.

Queries take a session by keyword and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.people import emergency_contacts
from carevisit.storage.models import Area, Elder, EmergencyContact, Incident, Problem, Visit, Volunteer

VISIT_LIMIT = 24  # two years of monthly visits; older ones are counted, not listed
PROBLEM_LIMIT = 30
INCIDENT_LIMIT = 30


@dataclass(frozen=True, slots=True)
class VisitLine:
    visit: Visit
    volunteer: str | None  # who made it, or who holds it while open


@dataclass(frozen=True, slots=True)
class ElderRecord:
    elder: Elder
    community: Area
    trail: list[Area]  # from the coordinator's own area down to the elder's community
    contacts: list[EmergencyContact]
    visits: list[VisitLine]  # most recent first
    more_visits: int  # older visits not listed
    problems: list[Problem]
    more_problems: int
    incidents: list[Incident]
    more_incidents: int


async def elder_in_area(session: AsyncSession, *, area: Area, elder_id: int) -> Elder | None:
    """The elder if they live in `area`'s subtree, else None (elsewhere and nowhere alike)."""
    return (
        await session.exec(
            select(Elder).where(
                col(Elder.id) == elder_id, col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))
            )
        )
    ).first()


async def elder_record(
    session: AsyncSession, *, area: Area, elder_id: int, visit_limit: int = VISIT_LIMIT
) -> ElderRecord | None:
    """The elder's page for a coordinator of `area`, or None if the elder is not theirs to see."""
    elder = await elder_in_area(session, area=area, elder_id=elder_id)
    if elder is None:
        return None
    community = await session.get(Area, elder.community_id)
    assert community is not None, "elders.community_id is a foreign key"
    visits, visit_total = await _recent_visits(session, elder_id=elder_id, limit=visit_limit)
    problems, problem_total = await _latest(session, Problem, elder_id, col(Problem.created_at), PROBLEM_LIMIT)
    incidents, incident_total = await _latest(session, Incident, elder_id, col(Incident.opened_at), INCIDENT_LIMIT)
    return ElderRecord(
        elder=elder,
        community=community,
        trail=await _trail(session, own=area, community=community),
        contacts=await emergency_contacts(session, elder_id=elder_id),
        visits=visits,
        more_visits=visit_total - len(visits),
        problems=problems,
        more_problems=problem_total - len(problems),
        incidents=incidents,
        more_incidents=incident_total - len(incidents),
    )


async def _trail(session: AsyncSession, *, own: Area, community: Area) -> list[Area]:
    """The areas on the community's path that the coordinator may see, top first (one query)."""
    codes = [code for code in community.path.strip("/").split("/") if code]
    rows = await session.exec(select(Area).where(col(Area.code).in_(codes), in_subtree(own)))
    return sorted(rows.all(), key=lambda found: len(found.path))


async def _recent_visits(session: AsyncSession, *, elder_id: int, limit: int) -> tuple[list[VisitLine], int]:
    who = func.coalesce(col(Visit.done_by_volunteer_id), col(Visit.volunteer_id))
    rows = await session.exec(
        select(Visit, Volunteer.name)
        .join(Volunteer, col(Volunteer.id) == who, isouter=True)
        .where(col(Visit.elder_id) == elder_id)
        .order_by(col(Visit.month).desc(), col(Visit.window_start).desc(), col(Visit.slot).desc())
        .limit(limit)
    )
    lines = [VisitLine(visit=visit, volunteer=name) for visit, name in rows.all()]
    total = await _count(session, Visit, elder_id) if len(lines) == limit else len(lines)
    return lines, total


async def _latest(session: AsyncSession, table: Any, elder_id: int, newest: Any, limit: int) -> tuple[list[Any], int]:
    rows = list(
        (await session.exec(select(table).where(table.elder_id == elder_id).order_by(newest.desc()).limit(limit))).all()
    )
    total = await _count(session, table, elder_id) if len(rows) == limit else len(rows)
    return rows, total


async def _count(session: AsyncSession, table: Any, elder_id: int) -> int:
    return int((await session.exec(select(func.count()).select_from(table).where(table.elder_id == elder_id))).one())
