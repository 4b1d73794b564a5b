"""The composition root: the one place that reads settings and wires adapters into the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, SystemClock
from carevisit.config import Settings
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Emergencies volunteers raise open as drills: only `carevisit demo` sets it, where a tap on 🆘 must never read
    # as a real emergency. Not a setting: nothing a deployment configures turns real emergencies into drills.
    drill_emergencies: bool = False


@asynccontextmanager
async def runtime(
    settings: Settings, *, clock: Clock | None = None, check_schema: bool = True
) -> AsyncIterator[Runtime]:
    """Engine and sessions for one command or the service; refuses an out-of-date schema unless told not to."""
    engine = make_engine(settings.database_url)
    try:
        if check_schema:
            await schema.ensure_up_to_date(engine)
        yield Runtime(
            settings=settings,
            clock=clock or SystemClock(),
            engine=engine,
            sessions=make_session_factory(engine),
        )
    finally:
        await engine.dispose()
