"""aiosqlite with one thread hop per statement, for SQLAlchemy's `sqlite+aiosqlite` dialect.

Why: aiosqlite runs every call on its own thread, and SQLAlchemy's adapter makes four such calls per statement
(make a cursor, execute, fetch, close). Each is two thread wake-ups; on a busy two-core machine they cost more than
the SQLite work itself (the bot's confirm path spent most of its time waiting for them). Here `execute` makes the
cursor, runs the statement, fetches every row and closes the cursor in a single call on the connection's thread,
and the rest is answered from what that call brought back. `commit` and `rollback` outside a transaction (the pool
rolls back every connection it takes back) are no-ops and make no call at all.

Same SQLite connection, same transactions and locking as plain aiosqlite: only the number of trips changes.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

import aiosqlite


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
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def commit(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().rollback()


def connect(database: Any, *args: Any, **kwargs: Any) -> OneTripConnection:
    """Drop-in for `aiosqlite.connect` as SQLAlchemy calls it (the dialect's own connect arguments)."""
    kwargs.pop("iter_chunk_size", None)
    connection = OneTripConnection(partial(sqlite3.connect, str(database), *args, **kwargs), 64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: a forgotten connection can't hang exit
    return connection
