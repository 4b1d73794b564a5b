"""The visit rate month by month (the report's twelve-month chart), in two grouped queries whatever the span.

Each month's figure is `care.visit_rate`'s for that month: the elders eligible today, with a completed visit that
belonged to the month. Status and consent have no history, so a past month is read against the register as it is
when the figure is computed.

Months that are closed (`care.month_close`: final from the 2nd of the next) no longer take visits, so their figures
can be kept for a while, per community (`ClosedMonths`); then a chart of twelve months costs one month's query, not
twelve, and the closed months counted for one area serve every area's chart.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree, subtree_ids
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
    """Figures of closed months per community, kept `lifetime` (status and consent changes show after that), at most
    `size` months, the least recently used going first. Kept per community, not per area: counting a closed month
    reads every completed visit of it whatever the area, so one count serves every area's chart."""

    def __init__(self, *, lifetime: timedelta = timedelta(hours=1), size: int = 36) -> None:
        self._lifetime = lifetime
        self._size = size
        self._kept: OrderedDict[str, tuple[datetime, dict[int, VisitRate]]] = OrderedDict()

    def get(self, month: str, *, now: datetime) -> dict[int, VisitRate] | None:
        kept = self._kept.get(month)
        if kept is None or kept[0] <= now:
            return None
        self._kept.move_to_end(month)
        return kept[1]

    def put(self, month: str, figures: dict[int, VisitRate], *, now: datetime) -> None:
        self._kept[month] = (now + self._lifetime, figures)
        self._kept.move_to_end(month)
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
        shut = [month for month in months if month not in found and not is_open(month, today=today)]
        found |= await _closed_rates(session, area=area, months=shut, closed=closed, now=now)
    missing = [month for month in months if month not in found]
    if missing:
        found |= await _rates(session, area=area, months=missing)
    return [(month, found[month]) for month in months]


async def _closed_rates(
    session: AsyncSession, *, area: Area, months: list[str], closed: ClosedMonths, now: datetime
) -> dict[str, VisitRate]:
    """The closed `months` for `area`: the kept per-community figures summed over its communities; months not kept
    are counted for every community at once, and kept."""
    if not months:
        return {}
    kept = {month: figures for month in months if (figures := closed.get(month, now=now)) is not None}
    if missing := [month for month in months if month not in kept]:
        counted = await _community_rates(session, months=missing)
        for month in missing:
            closed.put(month, counted[month], now=now)
        kept |= counted
    communities = await subtree_ids(session, area=area)
    return {month: _sum(kept[month], communities) for month in months}


def _sum(figures: dict[int, VisitRate], communities: list[int]) -> VisitRate:
    parts = [figures[c] for c in communities if c in figures]
    return VisitRate(eligible=sum(p.eligible for p in parts), visited=sum(p.visited for p in parts))


async def _community_rates(session: AsyncSession, *, months: list[str]) -> dict[str, dict[int, VisitRate]]:
    """Per month, per community: eligible elders and, of those, the ones with a completed visit in the month. Two
    grouped queries for the whole programme (the months' completed visits are read once)."""
    eligible = dict(
        (
            await session.exec(
                select(Elder.community_id, func.count())
                .where(eligible_elders_filter())
                .group_by(col(Elder.community_id))
            )
        ).all()
    )
    # `elder_id + 0`: SQLite would otherwise walk the elders and look their visits up one by one (5 s instead of
    # 1 s for 100,000 elders); this way it reads the months' completed visits from the (month, status) index.
    visited_rows = await session.exec(
        select(Elder.community_id, Visit.month, func.count(func.distinct(Visit.elder_id)))
        .join(Elder, col(Elder.id) == col(Visit.elder_id) + 0)
        .where(col(Visit.month).in_(months), col(Visit.status) == VisitStatus.DONE, eligible_elders_filter())
        .group_by(col(Elder.community_id), col(Visit.month))
    )
    visited: dict[tuple[int, str], int] = {(c, m): int(n) for c, m, n in visited_rows.all()}
    return {
        month: {c: VisitRate(eligible=int(n), visited=visited.get((c, month), 0)) for c, n in eligible.items()}
        for month in months
    }


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
