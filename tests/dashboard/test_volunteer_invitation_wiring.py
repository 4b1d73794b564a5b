"""Under `carevisit run` the dashboard's invitations are deep links: the bot part tells it the bot's username,
from CAREVISIT_TELEGRAM_BOT_USERNAME or from Telegram's getMe (a fake Bot API server here)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.config import load_settings
from carevisit.parts.bot import BotPart
from carevisit.storage.db import make_session_factory
from carevisit.storage.models import Area
from carevisit.web import build_web_app
from tests.bot.conftest import TOKEN
from tests.bot.fake_telegram import FakeTelegram
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_volunteer


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.close()


def _runtime(engine: AsyncEngine, clock: FakeClock, **settings: object) -> Runtime:
    return Runtime(
        settings=load_settings(database_url=str(engine.url.render_as_string(hide_password=False)), **settings),
        clock=clock,
        engine=engine,
        sessions=make_session_factory(engine),
    )


async def _invite_link(rt: Runtime, part: BotPart, volunteer_id: int) -> str:
    app = build_web_app(rt)
    part.add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await part.start()
    try:
        async with await sign_in(server, "street-lead") as street:
            csrf = await csrf_of(street, "/volunteers")
            page = await (await street.post(f"/volunteers/{volunteer_id}/invite", data={"csrf": csrf})).text()
    finally:
        await part.stop()
        await server.close()
    found = re.search(r'id="invitation-value">([^<]+)<', page)
    assert found, page
    return found.group(1)


async def test_the_running_bot_gives_the_dashboard_its_username_from_get_me(
    engine: AsyncEngine,
    clock: FakeClock,
    session: AsyncSession,
    areas: dict[str, Area],
    coordinator_factory,
    telegram: FakeTelegram,
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    rt = _runtime(engine, clock, telegram_token=TOKEN, telegram_api_base=telegram.base_url)

    link = await _invite_link(rt, BotPart(rt, poll_seconds=0), volunteer.id or 0)

    assert re.fullmatch(r"https://t\.me/carevisit_test_bot\?start=[A-Za-z0-9_-]{20,}", link)
    assert any(call.method == "getMe" for call in telegram.calls)


async def test_a_configured_username_needs_no_bot_running(
    engine: AsyncEngine, clock: FakeClock, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    rt = _runtime(engine, clock, telegram_bot_username="@shekou_care_bot")

    link = await _invite_link(rt, BotPart(rt), volunteer.id or 0)

    assert link.startswith("https://t.me/shekou_care_bot?start=")


async def test_without_a_bot_or_a_username_the_command_to_paste_is_shown(
    engine: AsyncEngine, clock: FakeClock, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    rt = _runtime(engine, clock)

    link = await _invite_link(rt, BotPart(rt), volunteer.id or 0)

    assert re.fullmatch(r"/start [A-Za-z0-9_-]{20,}", link)


def test_a_malformed_bot_username_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="not a Telegram bot username"):
        load_settings(telegram_bot_username="not a name!")
