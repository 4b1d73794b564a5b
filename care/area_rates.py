"""The visit rate of an area and of each area directly below it, in one pass over the elders.

The definition is care.visit_rate's (same eligibility filter, a completed visit of the month); this only groups
it: elders are counted per community in SQL, and the communities are summed into the child areas they lie in, so
an overview costs one aggregate however many children it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.visit_rate import VisitRate, eligible_elders_filter
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Visit


@dataclass(frozen=True, slots=True)
class AreaRates:
    total: VisitRate
    children: list[tuple[Area, VisitRate]]  # the areas directly below, by code


async def area_rates(session: AsyncSession, *, month: str, area: Area) -> AreaRates:
    children = (await session.exec(select(Area).where(col(Area.parent_id) == area.id).order_by(col(Area.code)))).all()
    visited = (
        select(Visit.elder_id)
        .where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE)
        .distinct()
        .subquery()
    )
    per_community = (
        select(Elder.community_id, Area.path, func.count(), func.count(visited.c.elder_id))
        .join(Area, col(Area.id) == col(Elder.community_id))
        .outerjoin(visited, visited.c.elder_id == col(Elder.id))
        .where(eligible_elders_filter(), in_subtree(area))
        .group_by(col(Elder.community_id), col(Area.path))
    )
    eligible: dict[int, int] = {}
    done: dict[int, int] = {}
    total_eligible = total_visited = 0
    for _community, path, n_eligible, n_visited in (await session.exec(per_community)).all():
        total_eligible += n_eligible
        total_visited += n_visited
        child = next((c for c in children if path.startswith(c.path)), None)
        if child is not None and child.id is not None:
            eligible[child.id] = eligible.get(child.id, 0) + n_eligible
            done[child.id] = done.get(child.id, 0) + n_visited
    rows = [
        (child, VisitRate(eligible=eligible.get(child.id or 0, 0), visited=done.get(child.id or 0, 0)))
        for child in children
    ]
    return AreaRates(total=VisitRate(eligible=total_eligible, visited=total_visited), children=rows)
