"""Signed acknowledgement links: `PUBLIC_URL/ack/<token>`, short enough for an SMS.

A token names the incident and who it was sent to (`k` contact, `c` coordinator), signed with HMAC-SHA256 under
the secret key. It is one-time in effect: the first acknowledgement wins and later uses only show who won.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

_SHAPE = re.compile(r"^(\d+)-([kc])(\d+)-([A-Za-z0-9_-]{16})$")
_WHO = {"k": "contact", "c": "coordinator"}
_LETTER = {v: k for k, v in _WHO.items()}


@dataclass(frozen=True, slots=True)
class AckToken:
    incident_id: int
    who_kind: str  # contact | coordinator
    who_id: int

    @property
    def actor(self) -> str:
        return f"{self.who_kind}:{self.who_id}"


def sign(secret: bytes, token: AckToken) -> str:
    body = f"{token.incident_id}-{_LETTER[token.who_kind]}{token.who_id}"
    return f"{body}-{_mac(secret, body)}"


def verify(secret: bytes, text: str) -> AckToken | None:
    """The token's contents, or None when it is malformed or its signature is wrong."""
    match = _SHAPE.match(text)
    if not match:
        return None
    incident, letter, who, mac = match.groups()
    body = f"{incident}-{letter}{who}"
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    return AckToken(int(incident), _WHO[letter], int(who))


def _mac(secret: bytes, body: str) -> str:
    mac = _keyed(secret).copy()  # the same as hmac.new(secret, b"ack:" + body): the key is set up once
    mac.update(body.encode())
    return base64.urlsafe_b64encode(mac.digest()[:12]).decode()


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    # A flood's hundreds of links each paid for the key schedule (and OpenSSL's digest fetch) before.
    return hmac.new(secret, b"ack:", hashlib.sha256)
