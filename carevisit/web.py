"""The service's one aiohttp application: the dashboard, the webhooks (Twilio, Telegram) and a health check."""

from __future__ import annotations

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.roster_views import ROSTER_SETTINGS, RosterSettings


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_web_app(rt: Runtime) -> web.Application:
    settings = rt.settings
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_get("/healthz", health)
    add_dashboard(
        app,
        sessions=rt.sessions,
        clock=rt.clock,
        zone=settings.zone,
        language=settings.language,
        secret=settings.secret_key.get_secret_value().encode() if settings.secret_key else None,
        secure_cookies=bool(settings.public_url and settings.public_url.scheme == "https"),
    )
    app[ROSTER_SETTINGS] = RosterSettings(region=settings.default_region, area_code=settings.default_area_code)
    return app
