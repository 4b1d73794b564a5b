"""Updates stored before they are answered, duplicates dropped by update_id, the webhook's secret, long polling,
the notifier's error translation, and the bot part starting and stopping under `carevisit run`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.notifier import TelegramNotifier
from carevisit.bot.updates import (
    SECRET_HEADER,
    WEBHOOK_PATH,
    UpdateProcessor,
    poll_into_store,
    store_update,
    webhook_handler,
)
from carevisit.care.clock import FakeClock
from carevisit.care.ports import ChatMessage, PermanentFailure, RateLimited, TemporaryFailure
from carevisit.storage.models import TelegramUpdate
from tests.bot.conftest import VOLUNTEER_TG, World
from tests.bot.fake_telegram import WEBHOOK_SECRET, FakeTelegram, Person, visits_update
from tests.factories import telegram

SECRET = WEBHOOK_SECRET


@pytest.fixture
async def webhook(session_factory, clock: FakeClock):  # type: ignore[no-untyped-def]
    wake = asyncio.Event()
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook_handler(session_factory, clock=clock, secret=SECRET, wake=wake))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, wake
    await server.close()


async def test_webhook_stores_then_answers_and_a_redelivery_is_handled_once(
    world: World,
    webhook,
    volunteer_person: Person,
    tg: FakeTelegram,
    session_factory,
    clock,
    dp: Dispatcher,
    bot: Bot,
    session: AsyncSession,
) -> None:  # type: ignore[no-untyped-def]
    server, wake = webhook
    update = visits_update(5001, volunteer_person)
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # Telegram retrying a delivery it thinks failed
            response = await http.post(server.make_url(WEBHOOK_PATH), json=update, headers={SECRET_HEADER: SECRET})
            assert response.status == 200
    assert wake.is_set()
    stored = (await session.exec(select(TelegramUpdate))).one()
    assert stored.processed_at is None and stored.payload is not None  # stored before anything was handled
    assert tg.texts(VOLUNTEER_TG) == []

    processor = UpdateProcessor(session_factory, dp, bot, clock, wake)
    assert await processor.run_cycle() == 1
    assert await processor.run_cycle() == 0
    assert len(tg.texts(VOLUNTEER_TG)) == 1 and "陈&lt;奶奶&gt;" in tg.last_text(VOLUNTEER_TG)
    await session.refresh(stored)
    assert stored.processed_at is not None and stored.payload is None  # the content is not kept once handled


async def test_webhook_refuses_a_missing_or_wrong_secret_and_stores_nothing(
    webhook, volunteer_person: Person, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    server, _wake = webhook
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "guess"}):
            response = await http.post(
                server.make_url(WEBHOOK_PATH), json=visits_update(5002, volunteer_person), headers=headers
            )
            assert response.status == 401
        response = await http.post(server.make_url(WEBHOOK_PATH), data=b"garbage", headers={SECRET_HEADER: SECRET})
        assert response.status == 400
    assert (await session.exec(select(TelegramUpdate))).all() == []


async def test_an_update_whose_handler_keeps_failing_is_set_aside(
    session_factory, clock: FakeClock, bot: Bot, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    dp = Dispatcher()

    @dp.message()
    async def broken(_message: object) -> None:
        raise RuntimeError("a bug")

    person = Person(FakeTelegram(), 1, "zh-hans", None)
    await store_update(session_factory, clock=clock, payload=visits_update(6001, person))
    await store_update(session_factory, clock=clock, payload=visits_update(6002, person))
    processor = UpdateProcessor(session_factory, dp, bot, clock, asyncio.Event())
    for _ in range(3):
        await processor.run_cycle()
    rows = (await session.exec(select(TelegramUpdate).order_by(TelegramUpdate.update_id))).all()
    assert [(r.attempts, r.processed_at is not None) for r in rows] == [(3, True), (3, True)]
    assert rows[0].error == "RuntimeError"  # the kind only: an error's text can quote personal data
    assert await processor.run_cycle() == 0


async def test_long_polling_stores_updates_and_the_processor_answers(
    world: World, volunteer_person: Person, tg: FakeTelegram, session_factory, clock, dp: Dispatcher, bot: Bot
) -> None:  # type: ignore[no-untyped-def]
    stop, wake = asyncio.Event(), asyncio.Event()
    tg.push_update(visits_update(7001, volunteer_person))
    tg.push_update(visits_update(7001, volunteer_person))  # Telegram sending it again
    polling = asyncio.create_task(
        poll_into_store(bot, session_factory, clock=clock, wake=wake, stop=stop, poll_seconds=0)
    )
    await asyncio.wait_for(wake.wait(), timeout=5)
    stop.set()
    await polling
    await UpdateProcessor(session_factory, dp, bot, clock, wake).run_cycle()
    assert len(tg.texts(VOLUNTEER_TG)) == 1
    offsets = [c.params.get("offset") for c in tg.calls if c.method == "getUpdates"]
    assert offsets[0] is None and all(o in (None, "7002", 7002) for o in offsets)


async def test_updates_the_poller_could_not_store_stay_at_telegram_and_are_fetched_again(
    world: World, volunteer_person: Person, tg: FakeTelegram, session_factory, clock, session: AsyncSession, bot: Bot
) -> None:  # type: ignore[no-untyped-def]
    stop, wake = asyncio.Event(), asyncio.Event()
    polling = asyncio.create_task(
        poll_into_store(bot, session_factory, clock=clock, wake=wake, stop=stop, poll_seconds=0, retry_seconds=0.05)
    )
    try:
        await asyncio.wait_for(tg.called("getUpdates"), 5)
        await session.exec(text("ALTER TABLE telegram_updates RENAME TO telegram_updates_away"))  # type: ignore[call-overload]
        await session.commit()
        tg.push_update(visits_update(7051, volunteer_person))
        fetched = sum(c.method == "getUpdates" for c in tg.calls)
        await asyncio.wait_for(tg.called("getUpdates", times=fetched + 3), 5)  # fetched, not stored, asked again
        assert tg.pending_updates() == [7051]  # no offset confirmed what was not stored
        await session.exec(text("ALTER TABLE telegram_updates_away RENAME TO telegram_updates"))  # type: ignore[call-overload]
        await session.commit()
        await asyncio.wait_for(wake.wait(), 5)
    finally:
        stop.set()
        await asyncio.wait_for(polling, 5)
    assert (await session.get(TelegramUpdate, 7051)) is not None


class DatabaseAwayAtFirst:
    """A session factory whose first session cannot reach the database (the service started before it)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionRefusedError("the database is not up yet")
        return self.inner()


async def test_the_poller_survives_a_database_away_when_it_starts(
    world: World, volunteer_person: Person, tg: FakeTelegram, session_factory, clock, bot: Bot, caplog
) -> None:  # type: ignore[no-untyped-def]
    stop, wake = asyncio.Event(), asyncio.Event()
    tg.push_update(visits_update(7061, volunteer_person))
    sessions = DatabaseAwayAtFirst(session_factory)
    with caplog.at_level(logging.ERROR):
        polling = asyncio.create_task(
            poll_into_store(bot, sessions, clock=clock, wake=wake, stop=stop, poll_seconds=0, retry_seconds=0.05)  # type: ignore[arg-type]
        )
        try:
            await asyncio.wait_for(wake.wait(), 20)
        finally:
            stop.set()
            await asyncio.wait_for(polling, 20)
    assert "ConnectionRefusedError" in caplog.text and "the database is not up yet" not in caplog.text
    async with session_factory() as session:
        assert (await session.get(TelegramUpdate, 7061)) is not None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 7",
                "parameters": {"retry_after": 7},
            },
            RateLimited,
        ),
        (
            403,
            {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
            PermanentFailure,
        ),
        (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, PermanentFailure),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, TemporaryFailure),
    ],
)
async def test_the_notifier_translates_telegram_errors(
    tg: FakeTelegram, bot: Bot, status: int, body: dict[str, Any], expected: type[Exception]
) -> None:
    tg.fail_next.append((status, body))
    with pytest.raises(expected) as raised:
        await TelegramNotifier(bot).send(ChatMessage(to=telegram(1), text="hi"))
    if expected is RateLimited:
        assert raised.value.retry_after == 7  # type: ignore[attr-defined]
    await TelegramNotifier(bot).send(ChatMessage(to=telegram(1), text="hi"))
    assert tg.last_text(1) == "hi"


async def test_handled_updates_are_forgotten_after_a_few_days(
    world: World,
    volunteer_person: Person,
    session_factory,
    clock: FakeClock,
    dp: Dispatcher,
    bot: Bot,
    session: AsyncSession,
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    await store_update(session_factory, clock=clock, payload=visits_update(6101, volunteer_person))
    processor = UpdateProcessor(session_factory, dp, bot, clock, asyncio.Event())
    await processor.run_cycle()
    clock.advance(timedelta(days=1))
    assert await processor.prune() == 0  # recent ids are still needed to drop redeliveries
    clock.advance(timedelta(days=3))
    assert await processor.prune() == 1
    assert (await session.exec(select(TelegramUpdate))).all() == []


async def test_a_429_from_telegram_pauses_the_chat_sender(
    tg: FakeTelegram, bot: Bot, session_factory, clock: FakeClock
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from carevisit.bot.chat_sender import ChatSender
    from carevisit.care import outbound

    async with session_factory() as session:
        for n in range(3):
            await outbound.enqueue(session, clock=clock, key=f"k{n}", to=telegram(100 + n), text=f"提醒{n}")
        await session.commit()
    tg.fail_next.append(
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 30",
                "parameters": {"retry_after": 30},
            },
        )
    )
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    result = await sender.run_cycle()
    assert result.sent == 0 and result.paused_until == clock.now() + timedelta(seconds=30)
    clock.advance(timedelta(seconds=29))
    await sender.run_cycle()
    assert [tg.texts(100 + n) for n in range(3)] == [[], [], []]
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).sent == 3
    assert [tg.texts(100 + n) for n in range(3)] == [["提醒0"], ["提醒1"], ["提醒2"]]
