"""Roster tests: a clock-and-region importer bound to the test database."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.roster.importer import ImportResult, import_elders, import_volunteers

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Importer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def elders(self, path: Path, **options: Any) -> ImportResult:
        async with self.sessions() as session:
            return await import_elders(
                session, path=path, clock=self.clock, zone=SHANGHAI, region="CN", actor="test", **options
            )

    async def volunteers(self, path: Path, **options: Any) -> ImportResult:
        async with self.sessions() as session:
            return await import_volunteers(session, path=path, clock=self.clock, region="CN", actor="test", **options)


@pytest.fixture
def importer(session_factory: async_sessionmaker[AsyncSession], clock: FakeClock) -> Importer:
    return Importer(session_factory, clock)
