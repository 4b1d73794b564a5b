"""aiosqlite with one thread hop per statement, for SQLAlchemy's `sqlite+aiosqlite` dialect.

Why: aiosqlite runs every call on its own thread, and SQLAlchemy's adapter makes four such calls per statement
(make a cursor, execute, fetch, close). Each is two thread wake-ups; on a busy two-core machine they cost more than
the SQLite work itself (the bot's confirm path spent most of its time waiting for them). Here `execute` makes the
cursor, runs the statement, fetches every row and closes the cursor in a single call on the connection's thread,
and the rest is answered from what that call brought back. `commit` and `rollback` outside a transaction (the pool
rolls back every connection it takes back) are no-ops and make no call at all.

Writers take turns in the event loop. SQLite lets one transaction write at a time; a second writer that finds the
file locked sleeps in SQLite's busy handler (1, 2, 5, 10 … ms) and tries again, so a few concurrent writers in one
process spent more time asleep than working. Here a connection waits for a per-file asyncio lock before the
statement that starts its write transaction and gives it back at commit or rollback, so the next writer starts the
moment the last one is done. Other processes still meet SQLite's own locking (busy_timeout) as before.
"""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from typing import Any

import aiosqlite

# The statements that make pysqlite open a transaction (its legacy mode, which SQLAlchemy uses), plus savepoints.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER")
WRITE_WAIT = 10.0  # seconds, like busy_timeout: a writer that waits longer gets SQLite's "database is locked"
_write_locks: dict[tuple[str, int], asyncio.Lock] = {}


def _write_lock(database: str) -> asyncio.Lock:
    key = (database, id(asyncio.get_running_loop()))
    lock = _write_locks.get(key)
    if lock is None:
        lock = _write_locks[key] = asyncio.Lock()
    return lock


class OneTripCursor:
    """The part of an aiosqlite cursor SQLAlchemy uses; rows are fetched together with the statement."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        await self._connection.before(sql)
        conn = self._connection._conn

        def run() -> tuple[list[Any], Any, int, int | None]:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, () if parameters is None else parameters)
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.description, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self._rows, self.description, self.rowcount, self.lastrowid = await self._connection._execute(run)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> OneTripCursor:
        await self._connection.before(sql)
        conn = self._connection._conn

        def run() -> tuple[int, int | None]:
            cursor = conn.cursor()
            try:
                cursor.executemany(sql, seq_of_parameters)
                return cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self._rows, self.description = [], None
        self.rowcount, self.lastrowid = await self._connection._execute(run)
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    def __init__(self, connector: Any, iter_chunk_size: int, *, database: str) -> None:
        super().__init__(connector, iter_chunk_size)
        self.database = database
        self._writing: asyncio.Lock | None = None  # the file's write lock, while this connection holds it

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def before(self, sql: str) -> None:
        """Wait for this file's write turn before a statement that writes (once per transaction)."""
        if self._writing is not None or not sql.lstrip()[:9].upper().startswith(_WRITES):
            return
        lock = _write_lock(self.database)
        try:
            await asyncio.wait_for(lock.acquire(), WRITE_WAIT)
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self._writing = lock

    def _end_of_transaction(self) -> None:
        if self._writing is not None and not (self._connection is not None and self._connection.in_transaction):
            self._writing, lock = None, self._writing
            lock.release()

    async def commit(self) -> None:
        try:
            if self._connection is not None and self._connection.in_transaction:
                await super().commit()
        finally:
            self._end_of_transaction()

    async def rollback(self) -> None:
        try:
            if self._connection is not None and self._connection.in_transaction:
                await super().rollback()
        finally:
            self._end_of_transaction()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._writing is not None:
                self._writing, lock = None, self._writing
                lock.release()


def connect(database: Any, *args: Any, **kwargs: Any) -> OneTripConnection:
    """Drop-in for `aiosqlite.connect` as SQLAlchemy calls it (the dialect's own connect arguments)."""
    kwargs.pop("iter_chunk_size", None)
    connection = OneTripConnection(partial(sqlite3.connect, str(database), *args, **kwargs), 64, database=str(database))
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: a forgotten connection can't hang exit
    return connection
