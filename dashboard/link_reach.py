"""Whether a phone can open a link of this service: an address that names the computer itself (127.0.0.1,
localhost) never opens on a phone, a local-network one (192.168.x.x) only on the same Wi-Fi."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK, LAN = "loopback", "lan"


def phone_reach(url: str) -> str | None:
    """LOOPBACK, LAN, or None for an address the internet reaches (as far as the address tells)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return LOOPBACK
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # a name: a single word or .local/.lan resolves only inside a local network
        return LAN if host and ("." not in host or host.endswith((".local", ".lan", ".internal"))) else None
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK
    if ip.is_private or ip.is_link_local:
        return LAN
    return None


def host_of(url: str) -> str:
    return urlsplit(url).hostname or url
