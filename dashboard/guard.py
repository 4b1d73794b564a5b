"""The one guard every dashboard POST passes: same-origin, the CSRF token of the session, and the role.

`views.signed_in` calls `check_post` for every POST it wraps, so a new action is guarded by being a signed-in view;
only `/login` and `/logout` are outside it, and they make the same origin and token checks themselves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Coordinator

_SAME_SITE = {"same-origin", "none"}  # `none`: the user's own navigation (typed, bookmarked)


def cross_site(request: web.Request) -> bool:
    """Whether the browser says this request comes from another site. Browsers of the last years send
    `Sec-Fetch-Site`, which alone decides (a reverse proxy that rewrites `Host` cannot confuse it); older ones send
    `Origin` on every POST, compared with the host asked for. A request with neither (curl) is judged by its CSRF
    token alone."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.lower() not in _SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    hosts = {request.host.lower(), request.headers.get("X-Forwarded-Host", "").split(",")[0].strip().lower()}
    return origin == "null" or urlsplit(origin).netloc.lower() not in hosts - {""}


def may_act(coordinator: Coordinator) -> bool:
    return coordinator.role != CoordinatorRole.VIEWER


def is_admin(coordinator: Coordinator) -> bool:
    return coordinator.role == CoordinatorRole.ADMIN
