"""Who is asking: the volunteer of the request's device cookie, checked in the database on every request.

Every volunteer page calls `signed_in` first. On a POST it also refuses a request from another site (the
browser's Sec-Fetch-Site or Origin) and one without this device's CSRF token (form field `csrf`, or the
`X-CSRF-Token` header for scripts), so that no page of the app can be driven from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.volunteer_sign_in import volunteer_for_device
from carevisit.storage.models import Volunteer
from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.texts import language_of, translator

DEVICE_COOKIE = "carevisit_device"
COOKIE_PATH = "/v/"
SIGNED_OUT = "/v/signed-out"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
VOLUNTEER = web.RequestKey("volunteer_app_volunteer", Volunteer)  # the request's volunteer, once signed in
_SAME_SITE = {"same-origin", "none"}  # `none`: the user's own navigation (typed, bookmarked)


async def signed_in(request: web.Request, session: AsyncSession) -> Volunteer:
    """The volunteer of this request's device (not revoked, volunteer active), else a redirect to the signed-out
    page. Commits only the device's last-seen time (hourly), so call it before the view's own work."""
    deps = request.app[DEPS]
    if request.method == "POST":
        await check_post(request)
    volunteer = await volunteer_for_device(session, device_token=device_token(request), clock=deps.clock)
    if volunteer is None:
        raise web.HTTPFound(SIGNED_OUT)
    if session.dirty:
        await session.commit()
    request[VOLUNTEER] = volunteer
    return volunteer


def device_token(request: web.Request) -> str:
    return request.cookies.get(DEVICE_COOKIE, "")


def csrf_token(request: web.Request) -> str:
    """The token this device's forms carry: derived from its secret cookie, which another site cannot read."""
    token = device_token(request)
    return hashlib.sha256(f"carevisit-app-csrf:{token}".encode()).hexdigest() if token else ""


async def check_post(request: web.Request) -> None:
    """Refuse (403) a POST from another site, or without this device's CSRF token."""
    t = translator(language_of(None, request.app[DEPS].language))
    if cross_site(request):
        raise web.HTTPForbidden(text=t("cross_site"))
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise web.HTTPForbidden(text=t("bad_request"))


def cross_site(request: web.Request) -> bool:
    """Whether the browser says this request comes from another site: `Sec-Fetch-Site` when sent (browsers of the
    last years), else `Origin` against the host asked for. A request with neither is judged by its token alone."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.lower() not in _SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    hosts = {request.host.lower(), request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()}
    return origin == "null" or urlsplit(origin).netloc.lower() not in hosts - {""}
