"""The register of an area subtree counted once for a month: elders per community, status and consent, and how
many of them have a completed visit in the month.

The report's headline rate, its rows by area, and the not-visited reasons all come from this one grouped query
(a scan of the subtree's elders with a hashed semi-join on the month's completed visits), instead of one query each.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.visit_rate import VisitRate
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Area, Elder, Visit


@dataclass(frozen=True, slots=True)
class RegisterRow:
    community_id: int
    status: ElderStatus
    consent: bool
    elders: int
    visited: int  # of those, with a completed visit in the month

    @property
    def eligible(self) -> bool:
        """`care.visit_rate`'s denominator: active and consenting."""
        return self.status == ElderStatus.ACTIVE and self.consent


async def register_counts(session: AsyncSession, *, month: str, area: Area) -> list[RegisterRow]:
    visited = select(Visit.elder_id).where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE)
    rows = await session.exec(
        select(
            Elder.community_id,
            Elder.status,
            Elder.consent,
            func.count(),
            func.sum(case((col(Elder.id).in_(visited), 1), else_=0)),
        )
        .where(col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
        .group_by(col(Elder.community_id), col(Elder.status), col(Elder.consent))
    )
    return [
        RegisterRow(int(community_id), ElderStatus(status), bool(consent), int(elders), int(done or 0))
        for community_id, status, consent, elders, done in rows.all()
    ]


def register_rate(rows: list[RegisterRow]) -> VisitRate:
    """The month's visit rate of the rows' elders, as `care.visit_rate.visit_rate` defines it."""
    eligible = [row for row in rows if row.eligible]
    return VisitRate(eligible=sum(row.elders for row in eligible), visited=sum(row.visited for row in eligible))
