"""Migration 0006_escalation_claims on a database that already holds the duplicate sids the bug left behind."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from carevisit.storage import schema
from carevisit.storage.db import make_engine


async def test_rows_sharing_a_sid_keep_it_on_the_first_and_the_index_becomes_unique(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'before.db'}")
    await schema.upgrade(engine, "0005_jobs_in_memory")
    async with engine.begin() as connection:
        for n, sid in enumerate(["CA1", "CA1", "CONSOLE-SM1", "CONSOLE-SM1", "CONSOLE-SM1", "SM9"], start=1):
            await connection.execute(
                text(
                    "INSERT INTO outbox (id, idempotency_key, purpose, channel, to_address, body, status, "
                    "status_rank, provider_sid, attempts, not_before, created_at) VALUES (:id, :key, 'page', 'voice', "
                    "'+8613900000001', '', 'queued', 3, :sid, 1, '2026-03-10 02:00:00', '2026-03-10 02:00:00')"
                ),
                {"id": n, "key": f"k{n}", "sid": sid},
            )
    await schema.upgrade(engine)
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT id, provider_sid FROM outbox ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [
            (1, "CA1"),
            (2, None),
            (3, "CONSOLE-SM1"),
            (4, None),
            (5, None),
            (6, "SM9"),
        ]
        unique = await connection.execute(
            text("SELECT \"unique\" FROM pragma_index_list('outbox') WHERE name = 'ix_outbox_provider_sid'")
        )
        assert unique.scalar() == 1
    await schema.downgrade(engine, "0005_jobs_in_memory")
    await schema.upgrade(engine)
    await engine.dispose()
