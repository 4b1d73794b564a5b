"""Mounting the coordinator dashboard on the service's aiohttp application."""

from __future__ import annotations

import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, local_today
from carevisit.dashboard import (
    admin_views,
    display,
    elder_views,
    incident_views,
    months,
    people_lists,
    photo_views,
    report_views,
    views,
    volunteer_views,
)
from carevisit.dashboard.accounts import SignInDesk
from carevisit.dashboard.auth import SessionSigner
from carevisit.dashboard.planning_views import add_planning_routes
from carevisit.dashboard.security import secure
from carevisit.dashboard.texts import translator

_HERE = Path(__file__).parent


def add_dashboard(
    app: web.Application,
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    zone: ZoneInfo,
    language: str,
    secret: bytes | None,
    secure_cookies: bool,
    photo_dir: Path | None = None,
) -> None:
    """Add the dashboard's routes. Without a secret key sign-ins last only until the process restarts; without
    `photo_dir` (where the volunteer app keeps photos) no photo is shown."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.filters["local"] = lambda moment, fmt="%Y-%m-%d %H:%M": display.local_time(moment, zone, fmt)
    env.filters["shown"] = display.shown_filter(translator(language))  # codes read as words: x|shown('kind')
    words = translator(language)
    # The month picker's options, worded here: the browser's month box would speak its own interface's language.
    env.globals["month_choices"] = lambda chosen: months.month_choices(words, chosen, today=local_today(clock, zone))
    photo_views.template_globals(env)
    app[views.DEPS] = views.DashboardDeps(
        sessions=sessions,
        clock=clock,
        zone=zone,
        signer=SessionSigner(secret or secrets.token_bytes(32)),
        language=language,
        secure_cookies=secure_cookies,
    )
    app[views.SIGN_IN] = SignInDesk()
    secure(app, language=language)
    app.router.add_get("/login", views.login_page)
    app.router.add_post("/login", views.login)
    app.router.add_post("/logout", views.logout)
    app.router.add_get("/", views.overview)
    app.router.add_get("/overdue", views.overdue)
    app.router.add_get("/unassigned", views.unassigned)
    app.router.add_get("/problems", views.problems)
    app.router.add_post("/problems/{problem_id:\\d+}", views.problem_update)
    app.router.add_get("/incidents", views.incidents)
    add_planning_routes(app)
    incident_views.add_routes(app)
    volunteer_views.add_routes(app)
    elder_views.add_routes(app)
    report_views.add_routes(app)
    admin_views.add_routes(app)
    people_lists.add_routes(app)
    photo_views.add_routes(app, photo_dir)
    app.router.add_static("/static", _HERE / "static")
