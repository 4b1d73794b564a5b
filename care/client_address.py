"""Which address a request comes from, for counting failures against it (sign-ins, acknowledgement codes)."""

from __future__ import annotations

import ipaddress


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The address failures are counted against. Behind the reverse proxy production uses (on this host or
    the private network) every peer is the proxy: then the client is the last address the proxy appended to
    `X-Forwarded-For` — the one entry a client cannot forge. A public peer is the client itself."""
    if peer and forwarded_for and _is_private(peer):
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return peer or ""


def _is_private(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_private  # loopback and RFC 1918 / ULA ranges alike
    except ValueError:  # a Unix socket
        return True
