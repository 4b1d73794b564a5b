"""The bot part under `carevisit run`: polling or webhook, the update processor and the chat sender together."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from carevisit.bootstrap import Runtime
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.config import load_settings
from carevisit.parts.bot import BotPart, make_part, webhook_secret
from carevisit.storage.db import make_session_factory
from tests.bot.conftest import TOKEN, VOLUNTEER_TG, World
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.test_updates_and_part import visits_update
from tests.factories import telegram


def runtime(engine: AsyncEngine, clock: FakeClock, **settings: object) -> Runtime:
    return Runtime(
        settings=load_settings(database_url=str(engine.url.render_as_string(hide_password=False)), **settings),
        clock=clock,
        engine=engine,
        sessions=make_session_factory(engine),
    )


async def eventually(condition) -> None:  # type: ignore[no-untyped-def]
    """Wait for the background tasks to have done what the fake server can see; the 20 s only bound the wait (a
    loaded CI machine is slow), nothing is timed."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110  (the state is in another task's HTTP calls, not an event we own)
            await asyncio.sleep(0.02)


async def test_without_a_token_the_bot_stays_off_and_says_messages_stay_queued(
    engine: AsyncEngine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    part = make_part(runtime(engine, clock))
    app = web.Application()
    part.add_routes(app)
    with caplog.at_level(logging.WARNING):
        await part.start()
    assert "stay queued" in caplog.text
    assert not any(r.resource.canonical == "/telegram/webhook" for r in app.router.routes())
    await part.stop()


async def test_polling_mode_answers_updates_and_sends_queued_messages(
    world: World, engine: AsyncEngine, clock: FakeClock, tg: FakeTelegram, deliver, session_factory
) -> None:  # type: ignore[no-untyped-def]
    rt = runtime(engine, clock, telegram_token=TOKEN, telegram_api_base=tg.base_url)
    part = BotPart(rt, poll_seconds=0)
    await part.start()
    try:
        tg.push_update(visits_update(8001, Person(tg, VOLUNTEER_TG, "zh-hans", deliver)))
        await eventually(lambda: len(tg.texts(VOLUNTEER_TG)) == 1)
        async with session_factory() as session:
            await outbound.enqueue(session, clock=clock, key="digest:1", to=telegram(VOLUNTEER_TG), text="今日提醒")
            await session.commit()
        clock.advance(timedelta(seconds=2))
        await eventually(lambda: "今日提醒" in tg.texts(VOLUNTEER_TG))
        assert any(c.method == "deleteWebhook" for c in tg.calls)
    finally:
        await part.stop()


async def test_webhook_mode_sets_the_webhook_with_a_secret_and_handles_posts(
    world: World, engine: AsyncEngine, clock: FakeClock, tg: FakeTelegram, deliver
) -> None:  # type: ignore[no-untyped-def]
    rt = runtime(
        engine,
        clock,
        telegram_token=TOKEN,
        telegram_api_base=tg.base_url,
        public_url="https://care.example.org",
        secret_key="a-long-secret-key-for-tests",
    )
    part = make_part(rt)
    app = web.Application()
    part.add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await part.start()
    try:
        set_webhook = next(c for c in tg.calls if c.method == "setWebhook")
        assert set_webhook.params["url"] == "https://care.example.org/telegram/webhook"
        secret = webhook_secret(rt)
        assert secret and set_webhook.params["secret_token"] == secret
        update = visits_update(9001, Person(tg, VOLUNTEER_TG, "zh-hans", deliver))
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                server.make_url("/telegram/webhook"), json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
            )
            assert response.status == 200
        await eventually(lambda: len(tg.texts(VOLUNTEER_TG)) == 1)
    finally:
        await part.stop()
        await server.close()


def test_invite_prints_a_one_time_deep_link(world: World, tmp_path, monkeypatch, db_url: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    import os

    from typer.testing import CliRunner

    from carevisit.cli import app

    if backend != "sqlite":
        pytest.skip("the CLI runs its own event loop; one backend is enough")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    env = {"CAREVISIT_DATABASE_URL": db_url}
    runner = CliRunner()
    roster_id = world.volunteer.external_id
    result = runner.invoke(app, ["invite", roster_id, "--bot-username", "carevisit_test_bot"], env=env)
    assert result.exit_code == 0, result.output
    assert "https://t.me/carevisit_test_bot?start=" in result.output
    missing = runner.invoke(app, ["invite", "FV-01", "--bot-username", "carevisit_test_bot"], env=env)
    assert missing.exit_code == 1 and "No active volunteer with roster id (编号) 'FV-01'" in missing.output
    no_name = runner.invoke(app, ["invite", roster_id], env=env)
    assert no_name.exit_code == 2 and "--bot-username" in no_name.output


def test_invite_asks_telegram_for_the_bots_name(world: World, tmp_path, monkeypatch, db_url: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    import os
    import threading

    from typer.testing import CliRunner

    from carevisit.cli import app

    if backend != "sqlite":
        pytest.skip("the CLI runs its own event loop; one backend is enough")
    # The CLI runs its own event loop in this thread, so the fake Bot API server gets a loop in another thread.
    loop = asyncio.new_event_loop()
    fake = FakeTelegram()
    loop.run_until_complete(fake.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.chdir(tmp_path)
        for name in list(os.environ):
            if name.startswith("CAREVISIT_"):
                monkeypatch.delenv(name)
        env = {
            "CAREVISIT_DATABASE_URL": db_url,
            "CAREVISIT_TELEGRAM_TOKEN": TOKEN,
            "CAREVISIT_TELEGRAM_API_BASE": fake.base_url,
        }
        result = CliRunner().invoke(app, ["invite", world.volunteer.external_id, "--days", "3"], env=env)
        assert result.exit_code == 0, result.output
        assert "https://t.me/carevisit_test_bot?start=" in result.output and "3 days" in result.output
        assert [c.method for c in fake.calls] == ["getMe"]
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
