"""A freshly issued one-time link, shown once after the POST that issued it (POST-redirect-GET): a reload then asks
nothing and shows the page without the link.

The link waits for the redirect in a short-lived cookie, signed and bound to the coordinator's session, never in the
address (addresses end up in history, Referer headers and access logs). The page that shows it deletes the cookie.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from carevisit.dashboard.auth import COOKIE as SESSION_COOKIE
from carevisit.dashboard.auth import SessionSigner

COOKIE = "carevisit_once"
PATH = "/volunteers"  # the only page that shows such links
LIFETIME = timedelta(minutes=5)  # long enough for a slow phone's redirect, short enough to be gone when forgotten
KINDS = ("invite", "app_link")


@dataclass(frozen=True, slots=True)
class Issued:
    kind: str  # invite (the chat bot) or app_link (the volunteer app)
    volunteer_id: int
    token: str
    until: datetime  # when the link itself stops working


def keep(
    response: web.StreamResponse,
    request: web.Request,
    *,
    signer: SessionSigner,
    issued: Issued,
    now: datetime,
    secure: bool,
) -> None:
    """Put `issued` in the response's cookie, for the next page of this session to show."""
    payload = json.dumps(
        {
            "k": issued.kind,
            "v": issued.volunteer_id,
            "t": issued.token,
            "u": int(issued.until.timestamp()),
            "x": int((now + LIFETIME).timestamp()),
        }
    )
    sealed = signer.seal(payload, bound_to=request.cookies.get(SESSION_COOKIE, ""))
    response.set_cookie(
        COOKIE,
        sealed,
        max_age=int(LIFETIME.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


def take(request: web.Request, *, signer: SessionSigner, now: datetime) -> Issued | None:
    """The link kept for this session, if any and not yet stale; `forget` it on the response that shows it."""
    payload = signer.unseal(request.cookies.get(COOKIE), bound_to=request.cookies.get(SESSION_COOKIE, ""))
    if payload is None:
        return None
    try:
        kept = json.loads(payload)
        kind, volunteer_id, token = str(kept["k"]), int(kept["v"]), str(kept["t"])
        until, stale_at = datetime.fromtimestamp(int(kept["u"]), now.tzinfo), int(kept["x"])
    except (ValueError, KeyError, TypeError):
        return None
    if kind not in KINDS or stale_at < now.timestamp():
        return None
    return Issued(kind=kind, volunteer_id=volunteer_id, token=token, until=until)


def forget(response: web.StreamResponse, request: web.Request) -> None:
    if COOKIE in request.cookies:
        response.del_cookie(COOKIE, path=PATH)
