"""CSRF protection of the volunteer app's forms: a random cookie of our own and a token derived from it in each form.

Another site can make a volunteer's browser post to us with the device cookie attached (SameSite=Lax still allows
a top-level POST in some browsers' in-app webviews) but it can neither read this cookie nor compute the token from
it. The browser's own `Sec-Fetch-Site` / `Origin` say where a post comes from and are checked first, as the
dashboard's guard does (its module is a sibling entry point, so the few lines are repeated here, not imported).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "cv_csrf"
FIELD = "csrf"
_SAME_SITE = {"same-origin", "none"}  # `none`: the user's own navigation
_NEW: web.RequestKey[str] = web.RequestKey("cv_csrf_new", str)


def _token_of(cookie: str) -> str:
    return hashlib.sha256(f"carevisit-volunteer-csrf:{cookie}".encode()).hexdigest()


def token(request: web.Request) -> str:
    """The token for this request's forms; a new cookie is made (and set by `keep`) when the browser has none."""
    cookie = request.cookies.get(COOKIE) or request.get(_NEW)
    if not cookie:
        cookie = secrets.token_urlsafe(24)
        request[_NEW] = cookie
    return _token_of(cookie)


def keep(request: web.Request, response: web.StreamResponse, *, secure: bool) -> None:
    """Set the cookie a page's token was made from, if it was made now."""
    cookie = request.get(_NEW)
    if cookie:
        response.set_cookie(COOKIE, cookie, path="/v/", httponly=True, samesite="Strict", secure=secure)


def cross_site(request: web.Request) -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.lower() not in _SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    hosts = {request.host.lower(), request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()}
    return origin == "null" or urlsplit(origin).netloc.lower() not in hosts - {""}


def post_ok(request: web.Request, sent: object) -> bool:
    """A post from our own page: same site, and the form's token is the one of this browser's cookie."""
    cookie = request.cookies.get(COOKIE)
    if cross_site(request) or not cookie or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent.encode(), _token_of(cookie).encode())
