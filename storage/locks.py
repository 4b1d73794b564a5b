"""Duties only one process may do at a time (firing scheduled jobs, polling Telegram, pacing chat messages), held
as a named database lock by whichever of several processes gets it first.

PostgreSQL: a session-level advisory lock on a dedicated connection, released by the server when the process (or
its connection) dies. SQLite: a lease row that the holder renews; a crashed holder's lease expires after `ttl`.
`Leadership` competes for a lock at an interval and runs the duty while it is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from carevisit.storage.models import LeaderLease

log = logging.getLogger(__name__)


class LeaderLock(Protocol):
    name: str

    async def try_acquire(self) -> bool:
        """Take or keep the lock; True while we hold it. Never raises for a database hiccup: returns False."""
        ...

    async def release(self) -> None: ...


def process_name() -> str:
    """Who holds a lease or claims a row: host, pid and a random tag (a pid is reused after a restart). At most 57
    characters (the host name cut to 40), so it fits every holder column, `outbox.lease_owner`'s 64 too."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock, one per lock name."""
    return int.from_bytes(hashlib.sha256(f"carevisit:{name}".encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLock:
    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.name = name
        self._engine = engine
        self._key = advisory_key(name)
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        try:
            if self._connection is not None:
                await self._connection.execute(text("SELECT 1"))  # still connected means still holding it
                return True
            connection = await self._engine.connect()
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key})).scalar()
            if got:
                self._connection = connection
                return True
            await connection.close()
            return False
        except (DBAPIError, OSError) as error:
            log.warning("lock %s: database unavailable (%s)", self.name, type(error).__name__)
            await self._drop()
            return False

    async def release(self) -> None:
        if self._connection is None:
            return
        # If this fails the connection is going anyway, and the server releases the lock with it.
        with contextlib.suppress(DBAPIError, OSError):
            await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        await self._drop()

    async def _drop(self) -> None:
        """Close the lock's connection for good. Invalidated, not handed back to the pool: a pooled connection would
        keep the session-level lock, unseen, and no process could lead until the pool recycled it."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(DBAPIError, OSError):
                await connection.invalidate()
                await connection.close()


class SQLiteLease:
    def __init__(
        self, engine: AsyncEngine, name: str, *, now: Callable[[], datetime], holder: str, ttl: timedelta
    ) -> None:
        self.name = name
        self._engine = engine
        self._now = now
        self._holder = holder
        self._ttl = ttl

    async def try_acquire(self) -> bool:
        now = self._now()
        table = LeaderLease.__table__  # type: ignore[attr-defined]
        statement = (
            sqlite.insert(table)
            .values(name=self.name, holder=self._holder, expires_at=now + self._ttl)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": self._holder, "expires_at": now + self._ttl},
                where=or_(table.c.holder == self._holder, table.c.expires_at < now),
            )
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(statement)
                holder = (await connection.execute(select(table.c.holder).where(table.c.name == self.name))).scalar()
        except DBAPIError as error:
            log.warning("lease %s: database busy or unavailable (%s)", self.name, type(error).__name__)
            return False
        return bool(holder == self._holder)

    async def release(self) -> None:
        table = LeaderLease.__table__  # type: ignore[attr-defined]
        try:
            async with self._engine.begin() as connection:
                await connection.execute(delete(table).where(table.c.name == self.name, table.c.holder == self._holder))
        except DBAPIError:
            pass  # the lease will expire on its own


def leader_lock(
    engine: AsyncEngine, name: str, *, now: Callable[[], datetime], holder: str, ttl: timedelta
) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine, name)
    return SQLiteLease(engine, name, now=now, holder=holder, ttl=ttl)


class Leadership:
    """Competes for `lock` every `every` seconds; runs `on_gain` when it is won and `on_loss` when it is lost or
    given up. Either callback failing is logged; the next check tries again."""

    def __init__(
        self,
        lock: LeaderLock,
        *,
        on_gain: Callable[[], Awaitable[None]],
        on_loss: Callable[[], Awaitable[None]],
        every: float = 30.0,
    ) -> None:
        self.lock = lock
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._every = every
        self.leading = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Compete once now (so a lone process leads as soon as it has started), then every `every` seconds."""
        self._stopping.clear()
        await self._check_logged()
        self._task = asyncio.create_task(self._watch(), name=f"leadership-{self.lock.name}")

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop competing (a check in progress gets `grace` seconds to finish: cancelling it mid-query would leave
        the pool a broken connection, but a database that does not answer must not hang the shutdown); give the
        duty and the lock up so another process takes over at its next check."""
        self._stopping.set()
        if self._task is not None:
            _done, late = await asyncio.wait({self._task}, timeout=grace)
            if late:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self.leading:
            self.leading = False
            await self._on_loss()
        await self.lock.release()

    async def check(self) -> bool:
        """Take, keep or lose the lock, starting or stopping the duty to match. Returns whether leading."""
        holding = await self.lock.try_acquire()
        if holding and not self.leading:
            try:
                await self._on_gain()
            except BaseException:  # a duty that would not start must not keep the lock from the others
                await self.lock.release()
                raise
            self.leading = True
            log.info("%s: this process leads", self.lock.name)
        elif not holding and self.leading:
            self.leading = False
            log.warning("%s: lost the lock; stopping", self.lock.name)
            await self._on_loss()
        return self.leading

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)
            if self._stopping.is_set():
                return
            await self._check_logged()

    async def _check_logged(self) -> None:
        try:
            await self.check()
        except Exception:  # never let the watcher die: a later check retries
            log.exception("%s: leadership check failed", self.lock.name)
