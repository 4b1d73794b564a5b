"""Coordinator sign-in for the dashboard: argon2 password hashes, checked off the event loop, and throttled.

argon2 takes tens of milliseconds of CPU on purpose; run on the event loop it would stall the bot, the webhooks and
the escalation engine for every attempt. It runs in a worker thread, a few at a time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import coordinators as accounts
from carevisit.care.clock import Clock
from carevisit.dashboard.throttle import ADDRESS_FREE_TRIES, Throttle
from carevisit.storage.models import Coordinator

log = logging.getLogger(__name__)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash of nothing in particular, verified for unknown users: the same work either way, no enumeration by
    timing. Made on first use, so that commands which never sign anyone in do not pay for it."""
    return _hasher.hash("carevisit: no such account")


def hash_password(password: str) -> str:
    """Synchronous, for commands and seeding; the dashboard uses `hash_password_off_loop`."""
    accounts.check_password(password)
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SignIn:
    """The outcome: the coordinator, or a refusal (with the end of a lock when sign-in is closed for a while)."""

    coordinator: Coordinator | None = None
    locked_until: datetime | None = None


class SignInDesk:
    """One per application: the in-memory throttles and the bound on argon2 threads."""

    def __init__(self, *, threads: int = 4) -> None:
        self.addresses = Throttle(free_tries=ADDRESS_FREE_TRIES)
        self.unknown_names = Throttle()
        self._threads = asyncio.Semaphore(threads)

    async def hash_password(self, password: str) -> str:
        accounts.check_password(password)
        async with self._threads:
            return await asyncio.to_thread(_hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._threads:
            return await asyncio.to_thread(_verify, password_hash, password)

    async def sign_in(
        self, session: AsyncSession, *, clock: Clock, username: str, password: str, address: str
    ) -> SignIn:
        """Check the password unless the address or the account is locked; count failures; commit."""
        now = clock.now()
        if until := self.addresses.locked_until(address, now):
            return SignIn(locked_until=until)
        coordinator = await accounts.by_username(session, username=username) if username else None
        if coordinator is None or not coordinator.active or not coordinator.password_hash or coordinator.id is None:
            return await self._unknown(username, password, address, now)
        if coordinator.locked_until is not None and coordinator.locked_until > now:
            return SignIn(locked_until=coordinator.locked_until)
        if not await self._verify(coordinator.password_hash, password):
            until = await accounts.record_failed_sign_in(session, clock=clock, coordinator_id=coordinator.id)
            await session.commit()
            if until is not None:  # ids only: a name or an address in the log is personal data
                log.warning("sign-in of coordinator %s closed until %s after repeated failures", coordinator.id, until)
            return SignIn(locked_until=_later(until, self.addresses.fail(address, now)))
        await accounts.record_sign_in(session, clock=clock, coordinator=coordinator)
        await session.commit()
        return SignIn(coordinator=coordinator)

    async def _unknown(self, username: str, password: str, address: str, now: datetime) -> SignIn:
        """No usable account by that name: throttled and timed like a real one, so the answers are the same."""
        if until := self.unknown_names.locked_until(username, now):
            return SignIn(locked_until=until)
        await self._verify(await asyncio.to_thread(_dummy_hash), password)
        return SignIn(locked_until=_later(self.unknown_names.fail(username, now), self.addresses.fail(address, now)))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((moment for moment in (a, b) if moment is not None), default=None)
