"""Only one process fires jobs: a database lock held while leader.

APScheduler 3 is not safe with several schedulers on one job store, so every `carevisit run` competes for this
lock and only the holder runs its scheduler. PostgreSQL: a session-level advisory lock on a dedicated connection
(released by the server if the process dies). SQLite: a lease row that the holder renews; a crashed holder's lease
expires after `ttl`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from carevisit.care.clock import Clock
from carevisit.storage.models import SchedulerLease

log = logging.getLogger(__name__)

LOCK_NAME = "carevisit-scheduler"
# pg_try_advisory_lock takes a bigint; a fixed one keyed to our purpose ("cvsched" in ASCII).
ADVISORY_KEY = 0x6376736368656400 >> 8


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool:
        """Take or keep the lock; True while we hold it. Never raises for a database hiccup: returns False."""
        ...

    async def release(self) -> None: ...


class PostgresAdvisoryLock:
    def __init__(self, engine: AsyncEngine, key: int = ADVISORY_KEY) -> None:
        self._engine = engine
        self._key = key
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
            log.warning("scheduler lock: database unavailable (%s)", type(error).__name__)
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
    def __init__(self, engine: AsyncEngine, *, clock: Clock, holder: str, ttl: timedelta = timedelta(seconds=90)):
        self._engine = engine
        self._clock = clock
        self._holder = holder
        self._ttl = ttl

    async def try_acquire(self) -> bool:
        now = self._clock.now()
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        statement = (
            sqlite.insert(table)
            .values(name=LOCK_NAME, holder=self._holder, expires_at=now + self._ttl)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={"holder": self._holder, "expires_at": now + self._ttl},
                where=or_(table.c.holder == self._holder, table.c.expires_at < now),
            )
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(statement)
                holder = (await connection.execute(select(table.c.holder).where(table.c.name == LOCK_NAME))).scalar()
        except DBAPIError as error:
            log.warning("scheduler lease: database busy or unavailable (%s)", type(error).__name__)
            return False
        return bool(holder == self._holder)

    async def release(self) -> None:
        table = SchedulerLease.__table__  # type: ignore[attr-defined]
        try:
            async with self._engine.begin() as connection:
                await connection.execute(delete(table).where(table.c.name == LOCK_NAME, table.c.holder == self._holder))
        except DBAPIError:
            pass  # the lease will expire on its own


def leader_lock(engine: AsyncEngine, *, clock: Clock, holder: str, ttl: timedelta) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine)
    return SQLiteLease(engine, clock=clock, holder=holder, ttl=ttl)
