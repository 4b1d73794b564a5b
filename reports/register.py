"""The register of an area subtree counted once for a month: elders per community, status and consent, and how
many of them have a completed visit in the month.

The report's headline rate, its rows by area, and the not-visited reasons all come from these counts (two grouped
queries, see `register_counts`), instead of one or two queries each.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.visit_rate import VisitRate, eligible_elders_filter
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Area, Elder, Visit


@dataclass(frozen=True, slots=True)
class RegisterRow:
    community_id: int
    status: ElderStatus
    consent: bool
    elders: int
    visited: int  # of those, with a completed visit in the month; counted for eligible rows only (0 for others)

    @property
    def eligible(self) -> bool:
        """`care.visit_rate`'s denominator: active and consenting."""
        return self.status == ElderStatus.ACTIVE and self.consent


async def register_counts(session: AsyncSession, *, month: str, area: Area) -> list[RegisterRow]:
    """Two grouped queries: the register by community, status and consent, and the eligible elders with a completed
    visit by community (a semi-join, as the rate's own query). Not one query with `id IN (...)` inside a CASE: on
    PostgreSQL that is a hashed subplan only while the month's visited elders fit in work_mem; past that (a few
    hundred thousand) it rescans them for every elder."""
    in_area = col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))
    visited_elders = select(Visit.elder_id).where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE)
    visited_rows = await session.exec(
        select(Elder.community_id, func.count())
        .where(in_area, eligible_elders_filter(), col(Elder.id).in_(visited_elders))
        .group_by(col(Elder.community_id))
    )
    visited = {int(community_id): int(count) for community_id, count in visited_rows.all()}
    rows = await session.exec(
        select(Elder.community_id, Elder.status, Elder.consent, func.count())
        .where(in_area)
        .group_by(col(Elder.community_id), col(Elder.status), col(Elder.consent))
    )
    register = []
    for community_id, status, consent, elders in rows.all():
        row = RegisterRow(int(community_id), ElderStatus(status), bool(consent), int(elders), 0)
        register.append(replace(row, visited=visited.get(row.community_id, 0)) if row.eligible else row)
    return register


def register_rate(rows: list[RegisterRow]) -> VisitRate:
    """The month's visit rate of the rows' elders, as `care.visit_rate.visit_rate` defines it."""
    eligible = [row for row in rows if row.eligible]
    return VisitRate(eligible=sum(row.elders for row in eligible), visited=sum(row.visited for row in eligible))
