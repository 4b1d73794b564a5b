"""Signing in silently from WeCom: `/v/wecom` sends the browser to WeCom's OAuth authorize page (snsapi_base), which
comes back to `/v/wecom/back` with a code; WeCom tells us whose code it is, and a volunteer linked to that WeCom
userid is bound to this browser by a device cookie, as a link does. An unlinked member is told to ask their
coordinator.

The `state` parameter is a nonce kept in a short-lived cookie of this browser, with its expiry, signed: a return
that this browser did not start (login CSRF) or that is old is refused. WeCom allows only [A-Za-z0-9] in it.

`/v/wecom?next=/v/incidents/12` (what every WeCom message's link is, `carevisit.wecom.links`) comes back to that page:
`next` is kept in the same cookie, after the nonce, and the state's signature covers it, so a `next` changed on the
way back invalidates the state. Only a path of this app (under /v/) is accepted: never another site.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
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
HOME = "/v/"
# A page of this app: /v/ and a path below it, letters, digits and -_./ only (no "//", "\\", ":" or "%" that could
# name another host once a browser resolves it), an optional plain query.
_APP_PATH = re.compile(r"/v/(?:[A-Za-z0-9_\-]+(?:[./][A-Za-z0-9_\-]+)*/?)?(?:\?[A-Za-z0-9_\-=&.]*)?")
_NEXT_MAX = 200


def safe_next(value: str | None) -> str:
    """`value` when it is a page of the volunteer app, else its home: no open redirect through the sign-in."""
    if value and len(value) <= _NEXT_MAX and _APP_PATH.fullmatch(value) and ".." not in value:
        return value
    return HOME


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

    def state_for(self, nonce: str, now: datetime, next_: str = HOME) -> str:
        expires = f"{int((now + STATE_LIFETIME).timestamp()):0{_EXPIRY}d}"
        return nonce + expires + self._sign(nonce + expires + next_)

    def state_ok(self, state: str, nonce: str | None, now: datetime, next_: str = HOME) -> bool:
        """The state this browser's nonce (and the page to go back to) was sent out with, unexpired, signed by us."""
        if not nonce or len(state) != _NONCE + _EXPIRY + _SIGNATURE:
            return False
        sent, expires, signature = state[:_NONCE], state[_NONCE:-_SIGNATURE], state[-_SIGNATURE:]
        if not expires.isdecimal() or not hmac.compare_digest(signature, self._sign(sent + expires + next_)):
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
    next_ = safe_next(request.query.get("next"))
    if wecom is None:  # WeCom is not configured here: the page, or the one saying how to sign in
        raise web.HTTPFound(next_)
    deps = request.app[DEPS]
    async with deps.sessions() as session:
        if await volunteer_for_device(session, device_token=guard.device_token(request)) is not None:
            raise web.HTTPFound(next_)  # signed in already: no trip to WeCom
    nonce = secrets.token_hex(_NONCE // 2)
    state = wecom.state_for(nonce, deps.clock.now(), next_)
    response = web.HTTPFound(wecom.authorize_url(_back_url(request), state))
    response.set_cookie(
        STATE_COOKIE,
        nonce + next_,
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
    kept = request.cookies.get(STATE_COOKIE, "")
    nonce, next_ = kept[:_NONCE], kept[_NONCE:]
    if not code or not wecom.state_ok(state, nonce, deps.clock.now(), next_):
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
    response = web.HTTPSeeOther(safe_next(next_))  # signed by us, and checked again all the same
    bind_cookie(request, response, token)
    response.del_cookie(STATE_COOKIE, path=STATE_PATH)
    raise response


def _back_url(request: web.Request) -> str:
    base = request.app[DEPS].public_url or str(request.url.origin())
    return f"{base.rstrip('/')}/v/wecom/back"


def _answer(response: web.Response) -> web.Response:
    response.del_cookie(STATE_COOKIE, path=STATE_PATH)  # a state works once
    return response
