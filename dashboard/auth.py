"""Dashboard sign-in: a signed, expiring session cookie and CSRF tokens derived from cookies.

Stateless on purpose (no session table): the cookie carries the coordinator id, their session version and an expiry,
signed with the secret key; every request reloads the coordinator, so deactivating an account, signing out or a new
password (each raises the version) takes effect at once on every device.

Before sign-in a random pre-session cookie carries the login form's CSRF token, so that another site cannot sign a
browser into an account of its choosing (login CSRF).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE = "carevisit_session"
LOGIN_COOKIE = "carevisit_login"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SessionClaim:
    coordinator_id: int
    version: int


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = hashlib.sha256(b"carevisit-dashboard-session" + secret).digest()

    def issue(self, coordinator_id: int, version: int, now: datetime) -> str:
        expires = int((now + LIFETIME).timestamp())
        payload = f"{coordinator_id}:{version}:{expires}"
        return f"{_b64(payload.encode())}.{self._sign(payload)}"

    def read(self, cookie: str | None, now: datetime) -> SessionClaim | None:
        """Who a valid, unexpired cookie is for, else None."""
        if not cookie or "." not in cookie:
            return None
        encoded, signature = cookie.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            coordinator_id, version, expires = (int(part) for part in payload.split(":"))
        except ValueError:  # also UnicodeDecodeError, binascii.Error: a forged or damaged cookie
            return None
        if not hmac.compare_digest(signature, self._sign(payload)) or expires < now.timestamp():
            return None
        return SessionClaim(coordinator_id, version)

    def csrf_token(self, cookie: str) -> str:
        return self._sign("csrf:" + cookie)

    def csrf_ok(self, cookie: str | None, token: object) -> bool:
        """The form's token belongs to this cookie; compared in constant time."""
        if not cookie or not isinstance(token, str):
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(cookie).encode())

    def seal(self, payload: str, *, bound_to: str) -> str:
        """`payload`, signed so that it reads back only alongside the cookie `bound_to`: a value kept in the browser
        for one session (a link to show once) cannot be forged, nor shown to another session."""
        return f"{_b64(payload.encode())}.{self._sign(f'seal:{bound_to}:{payload}')}"

    def unseal(self, sealed: str | None, *, bound_to: str) -> str | None:
        """The payload `seal` signed for this cookie, else None (forged, damaged, or another session's)."""
        if not sealed or "." not in sealed or not bound_to:
            return None
        encoded, signature = sealed.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except ValueError:
            return None
        return payload if hmac.compare_digest(signature, self._sign(f"seal:{bound_to}:{payload}")) else None

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


def new_login_cookie() -> str:
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
