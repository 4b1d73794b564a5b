"""Handled callbacks are forgotten after a week (WeCom retries within minutes): by `prune_wecom_events`, which the
WeCom sender's process runs once an hour."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.models import WeComEvent
from carevisit.wecom.housekeeping import KEEP, prune_wecom_events
from tests.wecom.conftest import Served


async def handled(session: AsyncSession, clock: FakeClock, key: str, age: timedelta) -> None:
    session.add(WeComEvent(dedupe_key=key, kind="text", outcome="help", received_at=clock.now() - age))
    await session.commit()


async def keys(session: AsyncSession) -> list[str]:
    rows = await session.exec(select(WeComEvent.dedupe_key).execution_options(populate_existing=True))
    return sorted(rows.all())


async def test_callbacks_older_than_a_week_are_forgotten(session: AsyncSession, clock: FakeClock) -> None:
    await handled(session, clock, "msg:old", KEEP + timedelta(minutes=1))
    await handled(session, clock, "msg:recent", KEEP - timedelta(minutes=1))

    assert await prune_wecom_events(session, clock=clock) == 1
    await session.commit()
    assert await keys(session) == ["msg:recent"]

    clock.advance(timedelta(minutes=2))  # now the other is a week old too
    assert await prune_wecom_events(session, clock=clock) == 1
    await session.commit()
    assert await keys(session) == []


async def test_a_shorter_keep_can_be_asked_for(session: AsyncSession, clock: FakeClock) -> None:
    await handled(session, clock, "msg:1", timedelta(hours=2))
    assert await prune_wecom_events(session, clock=clock, older_than=timedelta(hours=1)) == 1


async def test_the_sending_process_prunes(served: Served, session: AsyncSession, clock: FakeClock) -> None:
    await handled(session, clock, "msg:old", timedelta(days=30))
    await handled(session, clock, "msg:today", timedelta(hours=3))
    await served.part.start()
    try:
        assert served.part.leading
        async with asyncio.timeout(20):  # bounds the wait only: the pass runs as soon as the process leads
            while await keys(session) != ["msg:today"]:  # noqa: ASYNC110  (another task deletes the rows)
                await asyncio.sleep(0.02)
    finally:
        await served.part.stop()
