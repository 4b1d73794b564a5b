"""What every response of the service's application carries, and the bad input refused before any view runs.

Registered by `add_dashboard`, so it covers the dashboard, the webhooks and /healthz on the same application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from carevisit.dashboard.texts import translator

INT64_MAX = 2**63 - 1
SERVER = "carevisit"

# Every page of the dashboard carries personal data: nothing is kept by the browser or a proxy, nothing is framed.
HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_FORM = "application/x-www-form-urlencoded"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith(("/static/", "/v/static/")):  # style sheets hold nothing personal: may be cached
        response.headers["Cache-Control"] = "no-store"
    response.headers["Server"] = SERVER  # aiohttp's default names the Python and aiohttp versions


def _beyond_int64(value: str) -> bool:
    """A number no database row can have. By length first: `int()` refuses strings of more than 4,300 digits."""
    return value.isdecimal() and (len(value) > 19 or int(value) > INT64_MAX)


def bad_input_middleware(language: str) -> Middleware:
    """An id in the URL beyond a 64-bit integer is no row (404; the databases would raise), and a form body that is
    not UTF-8 is a bad request (400): never a 500 from deep inside a view."""
    t = translator(language)

    @web.middleware
    async def reject_bad_input(request: web.Request, handler: Handler) -> web.StreamResponse:
        if any(_beyond_int64(value) for value in request.match_info.values()):
            raise web.HTTPNotFound(text=t("acct.not_found"))
        if request.method == "POST" and request.content_type == _FORM:
            try:
                (await request.read()).decode("utf-8")  # read once and kept: the view's request.post() reuses it
            except UnicodeDecodeError:
                raise web.HTTPBadRequest(text=t("bad_request")) from None
        try:
            return await handler(request)
        except UnicodeDecodeError:  # a multipart field, a header: the same answer
            raise web.HTTPBadRequest(text=t("bad_request")) from None

    return reject_bad_input


def secure(app: web.Application, *, language: str) -> None:
    app.middlewares.append(bad_input_middleware(language))
    app.on_response_prepare.append(_secure_headers)
