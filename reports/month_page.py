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
from carevisit.storage.models import Area


@dataclass(frozen=True)
class MonthPage:
    by_area: Report
    by_organisation: Report
    by_volunteer: Report
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
    """`closed`: figures of closed months kept between calls (the chart's eleven earlier months)."""
    reports = await monthly_reports(session, month=month, area=area, zone=zone)
    months = months_ending(month)
    today, now = local_today(clock, zone), clock.now()
    return MonthPage(
        by_area=reports[ReportBy.AREA],
        by_organisation=reports[ReportBy.ORGANISATION],
        by_volunteer=reports[ReportBy.VOLUNTEER],
        history=await rate_history(session, area=area, months=months, today=today, now=now, closed=closed),
        not_visited=await not_visited(session, area=area, month=month),
    )
