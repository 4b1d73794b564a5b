"""Sign-in throttling kept in this process's memory: per address, and per user name that has no account (so that an
unknown name is throttled exactly like a known one and the answers do not tell them apart). Per-account throttling
of real accounts lives in the database (care/coordinators.py), where every web process sees it. The counter itself
is care.throttle's, shared with the volunteer app's sign-in links."""

from __future__ import annotations

from carevisit.care.client_address import client_address
from carevisit.care.throttle import Throttle

__all__ = ["ADDRESS_FREE_TRIES", "Throttle", "client_address"]

ADDRESS_FREE_TRIES = 20  # an office behind one address holds several coordinators who mistype
