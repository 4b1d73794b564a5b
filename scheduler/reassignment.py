"""Giving open visits a volunteer again: unassigned ones, and those of volunteers deactivated or moved away.

The CLI (`carevisit visits reassign`) and the dashboard call the same functions. They never commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock
from carevisit.scheduler.volunteer_loads import last_month_volunteers, load_assigner
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Visit, Volunteer, VolunteerCommunity

log = logging.getLogger(__name__)


class VolunteerNotFound(LookupError):
    """No volunteer with that id or external id."""


@dataclass
class ReassignResult:
    month: str
    reassigned: int = 0
    unassigned: list[tuple[Visit, Elder]] = field(default_factory=list)  # still no one: for the coordinators


async def reassign_open_visits(
    session: AsyncSession,
    *,
    clock: Clock,
    month: str,
    area: Area | None = None,
    actor: str = "system",
    of_volunteer: int | None = None,
) -> ReassignResult:
    """Give every open visit of `month` (in `area`'s subtree; only `of_volunteer`'s if given) a volunteer who is
    active and serves the elder's community, keeping the current or last month's volunteer where possible.
    Does not commit."""
    statement = (
        select(Visit, Elder)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(col(Visit.month) == month, col(Visit.status) == VisitStatus.PLANNED)
        .order_by(col(Visit.elder_id), col(Visit.slot))
    )
    if area is not None:
        statement = statement.where(col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
    if of_volunteer is not None:
        statement = statement.where(col(Visit.volunteer_id) == of_volunteer)
    rows = list((await session.exec(statement)).all())
    result = ReassignResult(month=month)
    if not rows:
        return result
    communities = {elder.community_id for _, elder in rows}
    serves = await _serving_pairs(session, communities)
    needing = [(v, e) for v, e in rows if v.volunteer_id is None or (v.volunteer_id, e.community_id) not in serves]
    if not needing:
        return result
    assigner = await load_assigner(session, month=month, communities=communities)
    elder_ids = [e.id for _, e in needing if e.id is not None]
    familiar = await last_month_volunteers(
        session, month=month, first_elder_id=min(elder_ids), last_elder_id=max(elder_ids)
    )
    keeping = {
        e.id: v.volunteer_id
        for v, e in rows
        if v.volunteer_id is not None and (v.volunteer_id, e.community_id) in serves
    }
    now = clock.now()
    for visit, elder in needing:
        if visit.volunteer_id is not None:
            assigner.release(visit.volunteer_id)
        chosen = assigner.pick(
            community_id=elder.community_id, preferred=(keeping.get(elder.id), familiar.get(elder.id))
        )
        if chosen is None:
            visit.volunteer_id = None
            visit.assigned_at = None
            result.unassigned.append((visit, elder))
        else:
            keeping.setdefault(elder.id, chosen)
            visit.volunteer_id = chosen
            visit.assigned_at = now
            result.reassigned += 1
        visit.updated_at = now
        session.add(visit)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="visits.reassign",
        entity="visit",
        details={"month": month, "reassigned": result.reassigned, "unassigned": len(result.unassigned)},
    )
    log.info("reassigned %d visits of %s, %d still unassigned", result.reassigned, month, len(result.unassigned))
    return result


async def count_needing_reassignment(session: AsyncSession, *, month: str, area: Area) -> int:
    """How many open visits of `month` in `area` `reassign_open_visits` would move: those with no volunteer, or
    one who no longer serves the elder's community (inactive or moved away). One COUNT; changes nothing."""
    serving = (
        select(VolunteerCommunity.volunteer_id)
        .join(Volunteer, col(Volunteer.id) == col(VolunteerCommunity.volunteer_id))
        .where(
            col(Volunteer.active).is_(True),
            col(VolunteerCommunity.volunteer_id) == col(Visit.volunteer_id),
            col(VolunteerCommunity.area_id) == col(Elder.community_id),
        )
    )
    statement = (
        select(func.count())
        .select_from(Visit)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(
            col(Visit.month) == month,
            col(Visit.status) == VisitStatus.PLANNED,
            col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
            col(Visit.volunteer_id).is_(None) | ~serving.exists(),
        )
    )
    return int((await session.exec(statement)).one())


async def deactivate_volunteer(
    session: AsyncSession, *, clock: Clock, volunteer_id: int, month: str, actor: str, only_theirs: bool = False
) -> ReassignResult:
    """Deactivate a volunteer and hand their open visits (of `month` and any later month) to others.

    With `only_theirs` nothing else is touched (the dashboard: a coordinator acts on this volunteer, not on other
    areas' unassigned visits); without it every open visit of those months is reassigned too (the CLI).
    Returns the result for `month`. Does not commit."""
    volunteer = await session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise VolunteerNotFound(volunteer_id)
    volunteer.active = False
    volunteer.updated_at = clock.now()
    session.add(volunteer)
    audit.record(
        session, clock=clock, actor=actor, action="volunteer.deactivate", entity="volunteer", entity_id=volunteer_id
    )
    await session.flush()
    later = await session.exec(
        select(Visit.month)
        .where(
            col(Visit.volunteer_id) == volunteer_id,
            col(Visit.status) == VisitStatus.PLANNED,
            col(Visit.month) > month,
        )
        .distinct()
    )
    scope = volunteer_id if only_theirs else None
    for other_month in sorted(later.all()):
        await reassign_open_visits(session, clock=clock, month=other_month, actor=actor, of_volunteer=scope)
    return await reassign_open_visits(session, clock=clock, month=month, actor=actor, of_volunteer=scope)


async def find_volunteer(session: AsyncSession, *, key: str) -> Volunteer:
    """A volunteer by roster id (编号), never by database id (nobody sees those); raises VolunteerNotFound."""
    found = (await session.exec(select(Volunteer).where(Volunteer.external_id == key.strip()))).first()
    if found is None:
        raise VolunteerNotFound(key)
    return found


async def _serving_pairs(session: AsyncSession, communities: set[int]) -> set[tuple[int, int]]:
    """(volunteer, community) pairs where an active volunteer serves that community."""
    rows = await session.exec(
        select(VolunteerCommunity.volunteer_id, VolunteerCommunity.area_id)
        .join(Volunteer, col(Volunteer.id) == col(VolunteerCommunity.volunteer_id))
        .where(col(Volunteer.active).is_(True), col(VolunteerCommunity.area_id).in_(list(communities)))
    )
    return {(volunteer_id, area_id) for volunteer_id, area_id in rows.all()}
