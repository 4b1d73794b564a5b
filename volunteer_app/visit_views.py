"""Stand-in for the visit pages (helper "app-pages" replaces this module): a home page that only says whose it is."""

from __future__ import annotations

from aiohttp import web

from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.guard import signed_in
from carevisit.volunteer_app.pages import render, t


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v/", home)


async def home(request: web.Request) -> web.StreamResponse:
    async with request.app[DEPS].sessions() as session:
        await signed_in(request, session)
    return render(request, "base.html", {"heading": t(request)("app.home")})
