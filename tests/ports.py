"""Ports for services the tests start on a port they must know in advance (the service's PUBLIC_URL).

`free_port` asks the kernel for a free port and closes it again, so the port is unheld until the service binds it;
on 127.0.0.1 an outgoing connection from any process on this machine (a database client, another test run) can be
given it as its local port in between, and the service then fails to bind. All of 127.0.0.0/8 is this machine, and
outgoing connections bind 127.0.0.1: a port chosen on a loopback address of the test's own stays free.
"""

from __future__ import annotations

import random
import socket


def loopback_host() -> str:
    """A random loopback address other than 127.0.0.1."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
