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
    """Whether the browser says this request comes from another site. Browsers send `Sec-Fetch-Site` (and `Origin`
    on every POST); a request with neither (an old browser, curl) is judged by its CSRF token alone."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in _SAME_SITE:
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower()


def may_act(coordinator: Coordinator) -> bool:
    return coordinator.role != CoordinatorRole.VIEWER


def is_admin(coordinator: Coordinator) -> bool:
    return coordinator.role == CoordinatorRole.ADMIN
