"""Signing in by a one-time link, and out: `/v/in/<token>`, `/v/signed-out`, `/v/out`.

The link's GET only shows one big 进入 button: chat apps fetch links for their previews, and a GET must not use a
link up. The button's POST redeems it and binds this browser by a long-lived device cookie. Unknown, used and
expired links get one and the same page, change nothing, and count against the address's tries.
"""

from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.client_address import client_address
from carevisit.care.throttle import Throttle
from carevisit.care.volunteer_sign_in import redeem, revoke_device, usable_link, volunteer_for_device
from carevisit.volunteer_app import guard
from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.pages import render, t

log = logging.getLogger(__name__)

LINK_THROTTLE = web.AppKey("volunteer_app_link_throttle", Throttle)
LINK_FREE_TRIES = 10  # a volunteer who taps an old link a few times is no scanner
DEVICE_LIFETIME = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chrome caps Max-Age at 400 days)


def add_routes(app: web.Application) -> None:
    app[LINK_THROTTLE] = Throttle(free_tries=LINK_FREE_TRIES)
    app.router.add_get("/v/in/{token}", link_page)
    app.router.add_post("/v/in/{token}", link_enter)
    app.router.add_get(guard.SIGNED_OUT, signed_out_page)
    app.router.add_post("/v/out", sign_out)


async def link_page(request: web.Request) -> web.StreamResponse:
    """The 进入 button, or the refusal; nothing is used up."""
    deps = request.app[DEPS]
    if (locked := _locked(request)) is not None:
        return locked
    async with deps.sessions() as session:
        link = await usable_link(session, clock=deps.clock, token=request.match_info["token"])
        if link is None and await _signed_in_already(request, session):
            raise web.HTTPSeeOther("/v/")
    if link is None:
        return _refused(request)
    return render(request, "sign_in.html", {})


async def link_enter(request: web.Request) -> web.StreamResponse:
    """进入: use the link once, bind this browser, go to the volunteer's home."""
    deps = request.app[DEPS]
    if guard.cross_site(request):  # another site must not sign this browser in as a volunteer of its choosing
        raise web.HTTPForbidden(text=t(request)("cross_site"))
    if (locked := _locked(request)) is not None:
        return locked
    async with deps.sessions() as session:
        token = await redeem(
            session,
            clock=deps.clock,
            token=request.match_info["token"],
            label=request.headers.get("User-Agent", ""),
        )
        if token is None:
            await session.rollback()
            if await _signed_in_already(request, session):  # a double tap: the first one signed this phone in
                raise web.HTTPSeeOther("/v/")
            return _refused(request)
        if guard.device_token(request):  # this browser was signed in before: that device is replaced
            await revoke_device(session, clock=deps.clock, device_token=guard.device_token(request))
        await session.commit()
    log.info("a volunteer signed in by link")
    response = web.HTTPSeeOther("/v/")
    bind_cookie(request, response, token)
    raise response


def bind_cookie(request: web.Request, response: web.StreamResponse, device_token: str) -> None:
    """The long-lived device cookie: HttpOnly, SameSite=Lax (a link from a chat app must arrive signed in),
    Secure behind https, only for /v/."""
    response.set_cookie(
        guard.DEVICE_COOKIE,
        device_token,
        max_age=DEVICE_LIFETIME,
        path=guard.COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=request.app[DEPS].secure_cookies,
    )


async def signed_out_page(request: web.Request) -> web.StreamResponse:
    done = request.query.get("done") == "1"
    return render(request, "signed_out.html", {"done": done})


async def sign_out(request: web.Request) -> web.StreamResponse:
    """退出: this device is revoked (needs its CSRF token, so another site cannot sign a volunteer out)."""
    deps = request.app[DEPS]
    token = guard.device_token(request)
    if token:
        await guard.check_post(request)
        async with deps.sessions() as session:
            await revoke_device(session, clock=deps.clock, device_token=token)
            await session.commit()
    response = web.HTTPSeeOther(guard.SIGNED_OUT + "?done=1")
    response.del_cookie(guard.DEVICE_COOKIE, path=guard.COOKIE_PATH)
    raise response


async def _signed_in_already(request: web.Request, session: AsyncSession) -> bool:
    """This browser is signed in: a used link it opens again (the back button, a second tap) just goes home."""
    token = guard.device_token(request)
    return bool(token) and await volunteer_for_device(session, device_token=token) is not None


def _address(request: web.Request) -> str:
    return client_address(request.remote, request.headers.get("X-Forwarded-For"))


def _locked(request: web.Request) -> web.Response | None:
    deps = request.app[DEPS]
    until = request.app[LINK_THROTTLE].locked_until(_address(request), deps.clock.now())
    return _throttled(request, until) if until is not None else None


def _refused(request: web.Request) -> web.Response:
    """One answer for unknown, used and expired links; the try is counted."""
    deps = request.app[DEPS]
    until = request.app[LINK_THROTTLE].fail(_address(request), deps.clock.now())
    if until is not None:
        log.warning("wrong sign-in links: an address is locked until %s", until.isoformat())
        return _throttled(request, until)
    log.info("a wrong, used or expired sign-in link was opened")
    return render(request, "refused.html", {}, status=404)


def _throttled(request: web.Request, until: datetime) -> web.Response:
    shown = until.astimezone(request.app[DEPS].zone).strftime("%H:%M:%S")
    return render(request, "refused.html", {"throttled": t(request)("in.throttled").format(until=shown)}, status=429)
