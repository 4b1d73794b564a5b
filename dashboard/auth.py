"""Dashboard sign-in: a signed, expiring session cookie and a CSRF token derived from it.

Stateless on purpose (no session table): the cookie carries the coordinator id and an expiry, signed with the
secret key; every request reloads the coordinator, so deactivating an account takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

COOKIE = "carevisit_session"
LIFETIME = timedelta(hours=12)


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = hashlib.sha256(b"carevisit-dashboard-session" + secret).digest()

    def issue(self, coordinator_id: int, now: datetime) -> str:
        expires = int((now + LIFETIME).timestamp())
        payload = f"{coordinator_id}:{expires}"
        return f"{_b64(payload.encode())}.{self._sign(payload)}"

    def read(self, cookie: str | None, now: datetime) -> int | None:
        """The coordinator id of a valid, unexpired cookie, else None."""
        if not cookie or "." not in cookie:
            return None
        encoded, signature = cookie.rsplit(".", 1)
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            coordinator_id, expires = (int(part) for part in payload.split(":"))
        except ValueError:
            return None
        if not hmac.compare_digest(signature, self._sign(payload)) or expires < now.timestamp():
            return None
        return coordinator_id

    def csrf_token(self, cookie: str) -> str:
        return self._sign("csrf:" + cookie)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
