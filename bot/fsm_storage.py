"""Where the bot's multi-message flows keep their place (a note, a problem report, the handling record): in the
project database unless Redis is configured. Never in one process's memory: a restart, or the next message of the
chat being handled by another process, carries on a half-typed record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.storage.models import BotFlowState

_TABLE = BotFlowState.__table__  # type: ignore[attr-defined]


class DatabaseStorage(BaseStorage):
    """aiogram FSM storage on the `bot_flow_states` table: one row per chat, its state and the data typed so far."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys = DefaultKeyBuilder(prefix="fsm")

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._upsert(key, {"state": value})

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return row.state if row is not None else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(key, {"data": dict(data)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        return dict(row.data or {}) if row is not None else {}

    async def close(self) -> None:
        """Nothing to close: the sessions belong to the service."""

    async def _row(self, key: StorageKey) -> BotFlowState | None:
        async with self._sessions() as session:
            return (await session.exec(select(BotFlowState).where(BotFlowState.key == self._keys.build(key)))).first()

    async def _upsert(self, key: StorageKey, values: dict[str, Any]) -> None:
        """Write one column, keeping the other (one row per chat: a cleared flow is a row with neither)."""
        name = self._keys.build(key)
        async with self._sessions() as session:
            insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            row = {"key": name, "state": None, "data": {}, "updated_at": self._clock.now()} | values
            statement = insert(_TABLE).values(row)
            statement = statement.on_conflict_do_update(
                index_elements=["key"], set_={**values, "updated_at": row["updated_at"]}
            )
            connection = await session.connection()
            await connection.execute(statement)
            await session.commit()
