"""The visit rate month by month (the report's twelve-month chart), in two grouped queries whatever the span.

Each month's figure is `care.visit_rate`'s for that month: the elders eligible today, with a completed visit that
belonged to the month. Status and consent have no history, so a past month is read against today's register, as
`visit_rate(month=…)` reads it.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.visit_rate import VisitRate, eligible_elders_filter
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Visit


def months_ending(month: str, count: int = 12) -> list[str]:
    """`count` months up to and including `month` ("YYYY-MM"), oldest first."""
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


async def rate_history(session: AsyncSession, *, area: Area, months: list[str]) -> list[tuple[str, VisitRate]]:
    """(month, rate) for each month asked, in order: one count of eligible elders, one count per month grouped."""
    in_area = col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))
    eligible = (
        await session.exec(select(func.count()).select_from(Elder).where(eligible_elders_filter(), in_area))
    ).one()
    eligible_ids = select(Elder.id).where(eligible_elders_filter(), in_area)
    # `elder_id + 0`: SQLite would otherwise look visits up elder by elder through the elder index (twice the work);
    # this way it reads the months' completed visits from the (month, status) index and checks each elder once.
    visited_rows = await session.exec(
        select(Visit.month, func.count(func.distinct(Visit.elder_id)))
        .where(
            col(Visit.month).in_(months),
            col(Visit.status) == VisitStatus.DONE,
            (col(Visit.elder_id) + 0).in_(eligible_ids),
        )
        .group_by(col(Visit.month))
    )
    visited = {month: int(count) for month, count in visited_rows.all()}
    return [(month, VisitRate(eligible=int(eligible), visited=visited.get(month, 0))) for month in months]
