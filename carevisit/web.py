"""The service's one aiohttp application: the dashboard, the volunteer app (/v/), the webhooks (Twilio, Telegram)
and a health check."""

from __future__ import annotations

import hashlib

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.config import Settings
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.roster_views import ROSTER_SETTINGS, RosterSettings
from carevisit.dashboard.volunteer_views import PUBLIC_URL
from carevisit.fieldwork.context import FieldContext
from carevisit.parts.wecom import make_client
from carevisit.policies import escalation_config
from carevisit.volunteer_app.app import add_volunteer_app
from carevisit.volunteer_app.deps import AppDeps
from carevisit.volunteer_app.page_common import PHOTOS
from carevisit.volunteer_app.photos import PhotoStore
from carevisit.volunteer_app.wecom_sign_in import WeComSignIn

WECOM_OAUTH = "https://open.weixin.qq.com"  # the authorize page is not on the API host (CHANNELS.md correction 8)


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_web_app(rt: Runtime) -> web.Application:
    settings = rt.settings
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_get("/healthz", health)
    secure_cookies = bool(settings.public_url and settings.public_url.scheme == "https")
    add_dashboard(
        app,
        sessions=rt.sessions,
        clock=rt.clock,
        zone=settings.zone,
        language=settings.language,
        secret=settings.secret_key.get_secret_value().encode() if settings.secret_key else None,
        secure_cookies=secure_cookies,
        photo_dir=settings.photos_dir,
    )
    app[ROSTER_SETTINGS] = RosterSettings(region=settings.default_region, area_code=settings.default_area_code)
    if (public_url := _public_url(settings)) is not None:
        app[PUBLIC_URL] = public_url  # the volunteer app's sign-in links on the volunteers page
    add_volunteer_app(app, _app_deps(rt, secure_cookies=secure_cookies), wecom=_wecom_sign_in(app, rt))
    app[PHOTOS] = PhotoStore(settings.photos_dir)  # the same folder the dashboard shows them from
    return app


def _public_url(settings: Settings) -> str | None:
    return str(settings.public_url).rstrip("/") if settings.public_url else None


def _app_deps(rt: Runtime, *, secure_cookies: bool) -> AppDeps:
    settings = rt.settings
    return AppDeps(
        sessions=rt.sessions,
        clock=rt.clock,
        zone=settings.zone,
        language=settings.language,
        field=_field_context(rt),
        secure_cookies=secure_cookies,
        public_url=_public_url(settings),
    )


def _field_context(rt: Runtime) -> FieldContext:
    """What the volunteer services (carevisit.fieldwork) need, as the bot builds it."""
    settings = rt.settings
    return FieldContext(
        clock=rt.clock,
        zone=settings.zone,
        policy=escalation_config(settings).policy,
        language=settings.language,
        public_url=_public_url(settings),
        drill=rt.drill_emergencies,
    )


def _wecom_sign_in(app: web.Application, rt: Runtime) -> WeComSignIn | None:
    """WeCom's silent sign-in, when the self-built app is configured; its client closes with the application."""
    settings = rt.settings
    if not settings.wecom_enabled:
        return None
    client = make_client(settings, rt.clock)  # the same client the WeCom part sends with

    async def close(_app: web.Application) -> None:
        await client.close()

    app.on_cleanup.append(close)
    # The state's key: from the secret key when there is one, so that every web process accepts the others'.
    secret = (
        hashlib.sha256(b"carevisit-wecom-state" + settings.secret_key.get_secret_value().encode()).digest()
        if settings.secret_key
        else None
    )
    return WeComSignIn(
        corp_id=settings.wecom_corp_id,
        agent_id=settings.wecom_agent_id,
        oauth_base=str(settings.wecom_oauth_base or WECOM_OAUTH),
        userid_of=client.user_by_oauth_code,
        **({"secret": secret} if secret else {}),
    )
