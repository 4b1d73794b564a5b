"""The people lists: "not visited this month" for the area in view, with why others are left out of the rate."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today
from carevisit.care.not_visited import not_visited, not_visited_reasons
from carevisit.dashboard.views import _context, _deps, list_scope, signed_in
from carevisit.storage.models import Area, Coordinator


def add_routes(app: web.Application) -> None:
    app.router.add_get("/not-visited", not_visited_page)


@signed_in
async def not_visited_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = _deps(request)
    area, month, scope = await list_scope(request, session, area, "/not-visited")
    found = await not_visited(session, area=area, month=month, today=local_today(deps.clock, deps.zone), zone=deps.zone)
    reasons = await not_visited_reasons(session, area=area, month=month)
    context = _context(request, coordinator, found=found, reasons=reasons, **scope)
    return aiohttp_jinja2.render_template("not_visited.html", request, context)
