"""Everything the dashboard's monthly report shows, in one call: the month by area, organisation and volunteer,
the rate over the last twelve months, and who was not visited and why."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, local_today
from carevisit.care.visit_rate import VisitRate
from carevisit.reports.history import ClosedMonths, months_ending, rate_history
from carevisit.reports.monthly import Report, ReportBy, monthly_reports
from carevisit.reports.reasons import NotVisited, not_visited
from carevisit.reports.register import register_counts
from carevisit.storage.enums import AreaLevel
from carevisit.storage.models import Area

_VOLUNTEER_LEVELS = (AreaLevel.STREET, AreaLevel.COMMUNITY)


@dataclass(frozen=True)
class MonthPage:
    by_area: Report
    by_organisation: Report
    by_volunteer: Report | None  # only for a street or a community (see `month_page`)
    history: list[tuple[str, VisitRate]]  # oldest first, ending with the month in view
    not_visited: NotVisited


async def month_page(
    session: AsyncSession,
    *,
    month: str,
    area: Area,
    zone: ZoneInfo,
    clock: Clock,
    closed: ClosedMonths | None = None,
) -> MonthPage:
    """`closed`: figures of closed months kept between calls (the chart's eleven earlier months).

    By volunteer only from the street down: a district has thousands of volunteers, too many to read on a page, and
    counting them is one of the costliest queries; the full list is in the download."""
    by = tuple(each for each in ReportBy if each != ReportBy.VOLUNTEER or AreaLevel(area.level) in _VOLUNTEER_LEVELS)
    register = await register_counts(session, month=month, area=area)  # shared by the rate, the rows, the reasons
    reports = await monthly_reports(session, month=month, area=area, zone=zone, by=by, register=register)
    months = months_ending(month)
    headline = reports[ReportBy.AREA].total.counts.rate  # the month's own figure: counted once, charted too
    today, now = local_today(clock, zone), clock.now()
    return MonthPage(
        by_area=reports[ReportBy.AREA],
        by_organisation=reports[ReportBy.ORGANISATION],
        by_volunteer=reports.get(ReportBy.VOLUNTEER),
        history=await rate_history(
            session, area=area, months=months, today=today, now=now, closed=closed, known={month: headline}
        ),
        not_visited=await not_visited(session, area=area, month=month, register=register),
    )
