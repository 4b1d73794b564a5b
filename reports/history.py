"""The visit rate month by month (the report's twelve-month chart), in two grouped queries whatever the span.

Each month's figure is `care.visit_rate`'s for that month: the elders eligible today, with a completed visit that
belonged to the month. Status and consent have no history, so a past month is read against the register as it is
when the figure is computed.

Months that are closed (`care.month_close`: final from the 2nd of the next) no longer take visits, so their figures
can be kept for a while (`ClosedMonths`); then a chart of twelve months costs one month's query, not twelve.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.month_close import is_open
from carevisit.care.visit_rate import VisitRate, eligible_elders_filter
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Visit


def months_ending(month: str, count: int = 12) -> list[str]:
    """`count` months up to and including `month` ("YYYY-MM"), oldest first."""
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


class ClosedMonths:
    """Figures of closed months per area, kept `lifetime` (status and consent changes show after that), at most
    `size` of them, the least recently used going first."""

    def __init__(self, *, lifetime: timedelta = timedelta(hours=1), size: int = 20_000) -> None:
        self._lifetime = lifetime
        self._size = size
        self._kept: OrderedDict[tuple[str, str], tuple[datetime, VisitRate]] = OrderedDict()

    def get(self, area: Area, month: str, *, now: datetime) -> VisitRate | None:
        kept = self._kept.get((area.path, month))
        if kept is None or kept[0] <= now:
            return None
        self._kept.move_to_end((area.path, month))
        return kept[1]

    def put(self, area: Area, month: str, rate: VisitRate, *, now: datetime) -> None:
        self._kept[(area.path, month)] = (now + self._lifetime, rate)
        self._kept.move_to_end((area.path, month))
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


async def rate_history(
    session: AsyncSession,
    *,
    area: Area,
    months: list[str],
    today: date | None = None,
    now: datetime | None = None,
    closed: ClosedMonths | None = None,
    known: dict[str, VisitRate] | None = None,
) -> list[tuple[str, VisitRate]]:
    """(month, rate) for each month asked, in order. With `closed` (and `today`, `now`), closed months come from it
    when it has them and are kept in it when computed. `known`: figures the caller has already counted (the report's
    own month)."""
    found: dict[str, VisitRate] = {month: rate for month, rate in (known or {}).items() if month in months}
    if closed is not None and today is not None and now is not None:
        for month in months:
            if month in found or is_open(month, today=today):
                continue
            if (kept := closed.get(area, month, now=now)) is not None:
                found[month] = kept
    missing = [month for month in months if month not in found]
    if missing:
        found |= await _rates(session, area=area, months=missing)
        if closed is not None and today is not None and now is not None:
            for month in missing:
                if not is_open(month, today=today):
                    closed.put(area, month, found[month], now=now)
    return [(month, found[month]) for month in months]


async def _rates(session: AsyncSession, *, area: Area, months: list[str]) -> dict[str, VisitRate]:
    """One count of eligible elders, one count of visited elders grouped by month."""
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
    return {month: VisitRate(eligible=int(eligible), visited=visited.get(month, 0)) for month in months}
