"""The visit rate of an area and of each area directly below it, in one pass over the elders.

The definition is care.visit_rate's (same eligibility filter, a completed visit of the month); this only groups
it: elders are counted per community in SQL, and the communities are summed into the child areas they lie in, so
an overview costs the same two counts however many children it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    eligible = select(Elder.community_id, Area.path, func.count()).join(Area, col(Area.id) == col(Elder.community_id))
    eligible = eligible.where(eligible_elders_filter(), in_subtree(area)).group_by(col(Elder.community_id), Area.path)
    # As visit_rate asks it (a semi-join), so the planner probes a district's elders one by one and hashes a
    # city's month of visits, rather than always reading the whole month.
    visited_elders = select(Visit.elder_id).where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE)
    visited = eligible.where(col(Elder.id).in_(visited_elders))
    totals = _by_child(children, (await session.exec(eligible)).all())
    done = _by_child(children, (await session.exec(visited)).all())
    rows = [
        (child, VisitRate(eligible=totals.get(child.id or 0, 0), visited=done.get(child.id or 0, 0)))
        for child in children
    ]
    total = VisitRate(eligible=totals.get(0, 0), visited=done.get(0, 0))
    return AreaRates(total=total, children=rows)


def _by_child(children: Sequence[Area], counts: Sequence[tuple[int, str, int]]) -> dict[int, int]:
    """Per-community counts summed into the child area each community lies in; key 0 holds the whole area."""
    summed: dict[int, int] = {0: 0}
    for _community, path, n in counts:
        summed[0] += n
        child = next((c for c in children if path.startswith(c.path)), None)
        if child is not None and child.id is not None:
            summed[child.id] = summed.get(child.id, 0) + n
    return summed
