"""With CAREVISIT_REDIS_URL the bot's multi-message flows live in Redis: a handling record half typed before a
restart is finished after it. Runs against the Redis server on 127.0.0.1:6379 (CAREVISIT_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Update
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.setup import build_dispatcher, make_storage
from carevisit.care.clock import FakeClock
from carevisit.storage.models import IncidentNote
from tests.bot.conftest import SHANGHAI, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person

REDIS_URL = os.environ.get("CAREVISIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except RedisConnectionError:
        await redis.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    name = f"carevisit-test-{uuid.uuid4().hex[:8]}"
    yield name
    keys = [key async for key in redis.scan_iter(f"{name}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def _process(storage: RedisStorage, session_factory, clock: FakeClock, bot: Bot, tg: FakeTelegram) -> Person:  # type: ignore[no-untyped-def]
    """One service process: its own dispatcher over the shared storage, the volunteer talking to it."""
    dp = build_dispatcher(sessions=session_factory, clock=clock, zone=SHANGHAI, storage=storage)

    async def deliver(update: dict) -> None:  # type: ignore[type-arg]
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))

    return Person(tg, VOLUNTEER_TG, "zh-hans", deliver)


async def test_a_handling_record_half_typed_before_a_restart_is_finished_after_it(
    world: World,
    tg: FakeTelegram,
    bot: Bot,
    session: AsyncSession,
    session_factory,  # type: ignore[no-untyped-def]
    clock: FakeClock,
    prefix: str,
) -> None:
    before = RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))
    volunteer = _process(before, session_factory, clock, bot, tg)
    await volunteer.send("/sos")
    await volunteer.press("陈<奶奶>")
    await volunteer.press(t("Record the handling", "zh_CN"))
    await volunteer.send("老人在家摔倒")
    await before.close()  # the process stops here

    after = RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))
    volunteer = _process(after, session_factory, clock, bot, tg)
    await volunteer.send("拨打120，联系了女儿")
    await volunteer.send("已送医院，情况稳定")
    await after.close()
    note = (await session.exec(select(IncidentNote))).one()
    assert (note.what_happened, note.actions_taken, note.outcome) == (
        "老人在家摔倒",
        "拨打120，联系了女儿",
        "已送医院，情况稳定",
    )


def test_without_a_redis_url_flows_live_in_memory_and_with_one_in_redis() -> None:
    assert isinstance(make_storage(None), MemoryStorage)
    assert isinstance(make_storage("redis://127.0.0.1:6379/0"), RedisStorage)
