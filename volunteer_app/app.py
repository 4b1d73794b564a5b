"""Mounting the volunteer app under /v/ on the service's aiohttp application (the dashboard's security middleware,
headers and bad-input checks, already cover every route of it)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from carevisit.volunteer_app import emergency_views, photo_views, sign_in_views, visit_views, wecom_sign_in
from carevisit.volunteer_app.deps import DEPS, AppDeps
from carevisit.volunteer_app.pages import setup_templates
from carevisit.volunteer_app.wecom_sign_in import WeComSignIn

_STATIC = Path(__file__).parent / "static"


def add_volunteer_app(app: web.Application, deps: AppDeps, *, wecom: WeComSignIn | None = None) -> None:
    """Every route of the app; WeCom's silent sign-in only when `wecom` is given."""
    app[DEPS] = deps
    setup_templates(app)
    sign_in_views.add_routes(app)
    wecom_sign_in.add_routes(app, wecom)
    visit_views.add_routes(app)
    emergency_views.add_routes(app)
    photo_views.add_routes(app)
    app.router.add_static("/v/static", _STATIC)
