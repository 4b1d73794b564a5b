"""The async engine and session factory: SQLite (WAL, foreign keys on) by default, PostgreSQL in production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def make_engine(url: str, **options: Any) -> AsyncEngine:
    """An engine for `sqlite+aiosqlite://…` or `postgresql+asyncpg://…`."""
    if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
        # Room for the bot's parallel chats, its webhook writer and the other parts: a connection made and dropped
        # for every overflow checkout costs a thread and a handshake each time.
        options.setdefault("pool_size", 20)
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while the scheduler writes; foreign keys are off in SQLite unless asked.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: handlers render what they just saved.
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
