"""Bringing a database to the current schema, and refusing to run on an out-of-date one."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

_MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutOfDate(RuntimeError):
    """The database is behind (or ahead of) this version of carevisit."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current = current
        self.head = head
        state = "is empty" if current is None else f"is at revision {current}"
        super().__init__(f"the database {state}, this carevisit needs {head}: run `carevisit db upgrade`")


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent: an up-to-date database is left as it is)."""
    await _with_connection(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _with_connection(engine, lambda config: command.downgrade(config, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def ensure_up_to_date(engine: AsyncEngine) -> None:
    """Raise `SchemaOutOfDate` unless the database is exactly at the newest migration."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(current, head)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def _with_connection(engine: AsyncEngine, run: object) -> None:
    def in_sync(connection: Connection) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        run(config)  # type: ignore[operator]

    async with engine.begin() as connection:
        await connection.run_sync(in_sync)
