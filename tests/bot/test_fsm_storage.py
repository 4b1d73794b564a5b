"""The bot's multi-message flows live in the database, or in Redis with CAREVISIT_REDIS_URL: a handling record half
typed before a restart (or in another process) is finished after it. Redis: the server on 127.0.0.1:6379
(CAREVISIT_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Update
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.fsm_storage import DatabaseStorage
from carevisit.bot.setup import build_dispatcher, make_storage
from carevisit.care.clock import FakeClock
from carevisit.storage.models import IncidentNote
from tests.bot.conftest import SHANGHAI, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person

REDIS_URL = os.environ.get("CAREVISIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["database", "redis"])
async def new_storage(
    request: pytest.FixtureRequest,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> AsyncIterator[Callable[[], BaseStorage]]:
    """Builds the storage a freshly started process would use."""
    if request.param == "database":
        yield lambda: DatabaseStorage(session_factory, clock=clock)
        return
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.ping()
    except RedisConnectionError:
        await redis.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"carevisit-test-{uuid.uuid4().hex[:8]}"  # this test's own keys, removed afterwards
    yield lambda: RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def _process(storage: BaseStorage, session_factory, clock: FakeClock, bot: Bot, tg: FakeTelegram) -> Person:  # type: ignore[no-untyped-def]
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
    new_storage: Callable[[], BaseStorage],
) -> None:
    before = new_storage()
    volunteer = _process(before, session_factory, clock, bot, tg)
    await volunteer.send("/sos")
    await volunteer.press("陈<奶奶>")
    await volunteer.press(t("Record the handling", "zh_CN"))
    await volunteer.send("老人在家摔倒")
    await before.close()  # the process stops here

    after = new_storage()
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


def test_flows_live_in_the_database_unless_redis_is_configured(session_factory, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(make_storage(None, sessions=session_factory, clock=clock), DatabaseStorage)
    assert isinstance(make_storage("redis://127.0.0.1:6379/0", sessions=session_factory, clock=clock), RedisStorage)
