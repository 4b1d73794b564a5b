"""The programme's monthly visit rate (月探访率), defined once; the bot, the dashboard and reports all use this.

Rate = active consenting elders with at least one completed visit of any mode (home, phone/video, remote
monitoring: the guideline counts all three) in the month / all active consenting elders.

A visit counts in the month it belongs to (`Visit.month`), not the one it was confirmed in: a visit made on the 31st
and confirmed on the 1st counts in the month just ended (`care.month_close`). So a month's rate can still rise on
the 1st of the next, and is final from the 2nd.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Area, Elder, Visit


@dataclass(frozen=True, slots=True)
class VisitRate:
    eligible: int  # active, consenting elders
    visited: int  # of those, with at least one completed visit in the month

    @property
    def rate(self) -> float:
        """1.0 when nobody is eligible: an area with no elders has nobody left unvisited."""
        return self.visited / self.eligible if self.eligible else 1.0

    @property
    def percent(self) -> str:
        return f"{self.rate * 100:.1f}%"


def eligible_elders_filter():  # type: ignore[no-untyped-def]
    """The denominator's condition, for queries that break the rate down further."""
    return (col(Elder.status) == ElderStatus.ACTIVE) & col(Elder.consent).is_(True)


async def visit_rate(session: AsyncSession, *, month: str, area: Area) -> VisitRate:
    """The rate for the elders of `area`'s subtree in `month` ("YYYY-MM")."""
    in_area = select(Area.id).where(in_subtree(area))
    eligible_q = (
        select(func.count()).select_from(Elder).where(eligible_elders_filter(), col(Elder.community_id).in_(in_area))
    )
    # No DISTINCT inside IN: it changes nothing in the answer, and made SQLite scan every visit ever made for it
    # instead of reading the month's from the (month, status) index (0.6 s instead of 0.1 s for 100,000 elders).
    visited_elders = select(Visit.elder_id).where(Visit.month == month, Visit.status == VisitStatus.DONE)
    visited_q = eligible_q.where(col(Elder.id).in_(visited_elders))
    eligible = (await session.exec(eligible_q)).one()
    visited = (await session.exec(visited_q)).one()
    return VisitRate(eligible=int(eligible), visited=int(visited))
