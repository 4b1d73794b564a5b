"""Signing in silently from WeCom: `/v/wecom` sends the browser to WeCom's OAuth authorize page (snsapi_base), which
comes back to `/v/wecom/back` with a code; WeCom tells us whose code it is, and a volunteer linked to that WeCom
userid is bound to this browser by a device cookie, as a link does. An unlinked member is told to ask their
coordinator.

The `state` parameter is a nonce kept in a short-lived cookie of this browser, with its expiry, signed: a return
that this browser did not start (login CSRF) or that is old is refused. WeCom allows only [A-Za-z0-9] in it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from carevisit.care.volunteer_sign_in import bind_device, volunteer_by_wecom_userid, volunteer_for_device
from carevisit.volunteer_app import guard
from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.pages import render
from carevisit.volunteer_app.sign_in_views import bind_cookie

log = logging.getLogger(__name__)

STATE_COOKIE = "carevisit_wecom_state"
STATE_PATH = "/v/wecom"
STATE_LIFETIME = timedelta(minutes=10)
_NONCE, _EXPIRY, _SIGNATURE = 32, 10, 32  # hex, decimal seconds, hex: fixed widths, no separators


@dataclass(frozen=True, slots=True)
class WeComSignIn:
    corp_id: str
    agent_id: int
    oauth_base: str  # https://open.weixin.qq.com (another host in tests)
    userid_of: Callable[[str], Awaitable[str | None]]  # a member's userid for an OAuth code; None for a non-member
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # signs `state`

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return (
            f"{self.oauth_base.rstrip('/')}/connect/oauth2/authorize?appid={quote(self.corp_id, safe='')}"
            f"&redirect_uri={quote(redirect_uri, safe='')}&response_type=code&scope=snsapi_base"
            f"&agentid={self.agent_id}&state={state}#wechat_redirect"
        )

    def state_for(self, nonce: str, now: datetime) -> str:
        expires = f"{int((now + STATE_LIFETIME).timestamp()):0{_EXPIRY}d}"
        return nonce + expires + self._sign(nonce + expires)

    def state_ok(self, state: str, nonce: str | None, now: datetime) -> bool:
        """The state this browser's nonce was sent out with, unexpired and signed by us."""
        if not nonce or len(state) != _NONCE + _EXPIRY + _SIGNATURE:
            return False
        sent, expires, signature = state[:_NONCE], state[_NONCE:-_SIGNATURE], state[-_SIGNATURE:]
        if not expires.isdecimal() or not hmac.compare_digest(signature, self._sign(sent + expires)):
            return False
        return hmac.compare_digest(sent, nonce) and int(expires) > now.timestamp()

    def _sign(self, payload: str) -> str:
        return hmac.new(self.secret, f"wecom-state:{payload}".encode(), hashlib.sha256).hexdigest()[:_SIGNATURE]


WECOM = web.AppKey("volunteer_app_wecom", WeComSignIn)


def add_routes(app: web.Application, wecom: WeComSignIn | None) -> None:
    if wecom is not None:
        app[WECOM] = wecom
    app.router.add_get("/v/wecom", start)
    app.router.add_get("/v/wecom/back", back)


async def start(request: web.Request) -> web.StreamResponse:
    wecom = request.app.get(WECOM)
    if wecom is None:  # WeCom is not configured here: home, or the page saying how to sign in
        raise web.HTTPFound("/v/")
    deps = request.app[DEPS]
    async with deps.sessions() as session:
        if await volunteer_for_device(session, device_token=guard.device_token(request)) is not None:
            raise web.HTTPFound("/v/")  # signed in already: no trip to WeCom
    nonce = secrets.token_hex(_NONCE // 2)
    response = web.HTTPFound(wecom.authorize_url(_back_url(request), wecom.state_for(nonce, deps.clock.now())))
    response.set_cookie(
        STATE_COOKIE,
        nonce,
        max_age=int(STATE_LIFETIME.total_seconds()),
        path=STATE_PATH,
        httponly=True,
        samesite="Lax",  # sent on WeCom's redirect back, a top-level navigation
        secure=deps.secure_cookies,
    )
    raise response


async def back(request: web.Request) -> web.StreamResponse:
    wecom = request.app.get(WECOM)
    if wecom is None:
        raise web.HTTPFound("/v/")
    deps = request.app[DEPS]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or not wecom.state_ok(state, request.cookies.get(STATE_COOKIE), deps.clock.now()):
        log.info("a WeCom sign-in came back without a valid state or code")
        return _answer(render(request, "wecom_refused.html", {"reason": "wecom.failed"}, status=403))
    try:
        userid = await wecom.userid_of(code)
    except Exception:  # WeCom refused the code (used, expired) or could not be reached: the same page
        log.warning("WeCom did not say whose OAuth code it was", exc_info=True)
        return _answer(render(request, "wecom_refused.html", {"reason": "wecom.failed"}, status=502))
    async with deps.sessions() as session:
        volunteer = await volunteer_by_wecom_userid(session, userid=userid) if userid else None
        if volunteer is None or volunteer.id is None:
            log.info("a WeCom member not linked to an active volunteer tried to sign in")
            return _answer(render(request, "wecom_refused.html", {"reason": "wecom.unlinked"}, status=403))
        token = await bind_device(
            session,
            clock=deps.clock,
            volunteer_id=volunteer.id,
            label=request.headers.get("User-Agent", ""),
            via="wecom",
        )
        await session.commit()
    response = web.HTTPSeeOther("/v/")
    bind_cookie(request, response, token)
    response.del_cookie(STATE_COOKIE, path=STATE_PATH)
    raise response


def _back_url(request: web.Request) -> str:
    base = request.app[DEPS].public_url or str(request.url.origin())
    return f"{base.rstrip('/')}/v/wecom/back"


def _answer(response: web.Response) -> web.Response:
    response.del_cookie(STATE_COOKIE, path=STATE_PATH)  # a state works once
    return response
