"""The monthly report in the dashboard (`/report`) and its downloads (`/report.csv`, `/report.xlsx`): the same
queries as `carevisit report`, scoped to the area in view inside the coordinator's subtree."""

from __future__ import annotations

import calendar
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today
from carevisit.dashboard import roster_views, views
from carevisit.dashboard.texts import translator
from carevisit.reports.chart import Bar, rate_chart
from carevisit.reports.export import to_csv, to_xlsx
from carevisit.reports.history import ClosedMonths
from carevisit.reports.month_page import month_page
from carevisit.reports.monthly import NO_ORGANISATION_CODE, UNASSIGNED_CODE, ReportBy, monthly_report
from carevisit.storage.models import Area, Coordinator

# Rows shown per table; a district's hundreds of volunteers are in the download.
SHOWN_ROWS = 100
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CLOSED_MONTHS = web.AppKey("report_closed_months", ClosedMonths)
_BY_KEY = {
    ReportBy.AREA: "report.by_area",
    ReportBy.ORGANISATION: "report.by_organisation",
    ReportBy.VOLUNTEER: "report.by_volunteer",
}


def add_routes(app: web.Application) -> None:
    """The report, its downloads, and the roster upload (the other way data crosses the dashboard in files)."""
    roster_views.add_routes(app)
    app[CLOSED_MONTHS] = ClosedMonths()
    app.router.add_get("/report", report_page)
    app.router.add_get("/report.csv", report_csv)
    app.router.add_get("/report.xlsx", report_xlsx)


async def _scope(request: web.Request, session: AsyncSession, own: Area) -> tuple[str, Area]:
    deps = views._deps(request)
    month = views.chosen_month(request, local_today(deps.clock, deps.zone))
    return month, await views.chosen_area(request, session, own)


def _bars(t: Any, history: list[tuple[str, Any]]) -> list[Bar]:
    bars = []
    for index, (month, rate) in enumerate(history):
        number = int(month[5:7])
        label = t("report.month_label").format(n=number, abbr=calendar.month_abbr[number])
        detail = t("report.bar_detail").format(
            month=month, rate=rate.percent, visited=rate.visited, eligible=rate.eligible
        )
        bars.append(Bar(label=label, rate=rate.rate, detail=detail, current=index == len(history) - 1))
    return bars


@views.signed_in
async def report_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = views._deps(request)
    t = translator(deps.language)
    month, area = await _scope(request, session, area)
    late = views._late(deps, local_today(deps.clock, deps.zone))  # on the 1st, last month can still change
    closed = request.app[CLOSED_MONTHS]
    page = await month_page(session, month=month, area=area, zone=deps.zone, clock=deps.clock, closed=closed)
    first, last = page.history[0], page.history[-1]
    chart = rate_chart(
        _bars(t, page.history),
        title=t("report.chart_title").format(area=area.name),
        description=t("report.chart_desc").format(first=first[0], last=last[0], rate=last[1].percent),
    )
    context = views._context(
        request,
        coordinator,
        area=area,
        month=month,
        page=page,
        chart=chart,
        shown=SHOWN_ROWS,
        late=late if late and late["month"] == month else None,
        special={UNASSIGNED_CODE: t("report.unassigned_row"), NO_ORGANISATION_CODE: t("report.no_organisation")},
        downloads=[(by.value, t(_BY_KEY[by])) for by in ReportBy],
    )
    return aiohttp_jinja2.render_template("report.html", request, context)


async def _download(request: web.Request, session: AsyncSession, own: Area, *, suffix: str) -> web.Response:
    deps = views._deps(request)
    t = translator(deps.language)
    try:
        by = ReportBy(request.query.get("by", ReportBy.AREA.value))
    except ValueError:
        raise web.HTTPBadRequest(text=t("report.bad_by")) from None
    month, area = await _scope(request, session, own)
    report = await monthly_report(session, month=month, area=area, by=by, zone=deps.zone)
    if suffix == "csv":
        body, kind = to_csv(report).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        body, kind = to_xlsx(report), _XLSX
    name = t("report.file_name").format(area=area.name, month=month, by=t(_BY_KEY[by]))
    fallback = f"report-{area.code}-{month}-{by}.{suffix}"
    return web.Response(
        body=body,
        headers={
            "Content-Type": kind,
            "Content-Disposition": _attachment(f"{name}.{suffix}", fallback=fallback),
            "Cache-Control": "no-store",  # names of volunteers and organisations: kept out of caches
        },
    )


def _attachment(name: str, *, fallback: str) -> str:
    """RFC 6266 with RFC 5987: an ASCII name for old clients, the Chinese one for every browser of this decade."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@views.signed_in
async def report_csv(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _download(request, session, area, suffix="csv")


@views.signed_in
async def report_xlsx(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _download(request, session, area, suffix="xlsx")
