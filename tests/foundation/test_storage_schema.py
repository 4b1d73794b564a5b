"""The schema: migrations apply and roll back, the app refuses an out-of-date database, the audit log is evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import FakeClock
from carevisit.storage import schema
from carevisit.storage.db import make_engine
from carevisit.storage.models import AuditEntry


async def test_every_revision_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'stairs.db'}")
    revisions = list(reversed(list(ScriptDirectory.from_config(schema.alembic_config()).walk_revisions())))
    for revision in revisions:
        await schema.upgrade(engine, revision.revision)
        await schema.downgrade(engine, revision.down_revision or "base")
        await schema.upgrade(engine, revision.revision)
    assert await schema.current_revision(engine) == schema.head_revision()
    await engine.dispose()


async def test_stairway_on_the_test_backend(engine: AsyncEngine) -> None:
    # The fixture database is at head: going all the way down and up again must work on this backend too.
    await schema.downgrade(engine, "base")
    assert await schema.current_revision(engine) is None
    await schema.upgrade(engine)
    await schema.ensure_up_to_date(engine)


async def test_an_empty_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(schema.SchemaOutOfDate, match="carevisit db upgrade"):
        await schema.ensure_up_to_date(engine)
    await engine.dispose()


async def test_a_database_behind_head_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await schema.upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'an_old_revision'"))
    with pytest.raises(schema.SchemaOutOfDate, match="an_old_revision"):
        await schema.ensure_up_to_date(engine)
    await engine.dispose()


async def test_audit_entries_cannot_be_changed_or_deleted(session: AsyncSession, clock: FakeClock) -> None:
    entry = audit.record(session, clock=clock, actor="cli", action="import", entity="elder", entity_id=1)
    await session.commit()
    entry_id = entry.id
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            await (await session.connection()).execute(text(statement))
        await session.rollback()
    kept = await session.get(AuditEntry, entry_id)
    assert kept is not None and kept.actor == "cli"
    assert kept.at == clock.now()  # stored in UTC, returned aware


async def test_migrations_build_exactly_the_tables_the_models_declare(engine: AsyncEngine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    def differences(connection):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == [], "models and migrations disagree: add a migration"
