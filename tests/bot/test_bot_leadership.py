"""Two service processes with the bot on one database: only one polls Telegram and paces chat messages; when it
stops, the other takes both over. Every process handles stored updates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.parts.bot import BotPart
from tests.bot.conftest import TOKEN, VOLUNTEER_TG, World
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.test_bot_part import eventually, runtime
from tests.bot.test_updates_and_part import visits_update
from tests.factories import telegram


async def test_one_process_holds_the_bot_duties_and_the_other_takes_them_over(
    world: World, engine: AsyncEngine, clock: FakeClock, tg: FakeTelegram, deliver, session_factory
) -> None:  # type: ignore[no-untyped-def]
    settings = {"telegram_token": TOKEN, "telegram_api_base": tg.base_url}
    first = BotPart(runtime(engine, clock, **settings), poll_seconds=0, leader_check_every=0.05)
    second = BotPart(runtime(engine, clock, **settings), poll_seconds=0, leader_check_every=0.05)
    await first.start()
    await second.start()
    try:
        assert first.leading and not second.leading
        async with session_factory() as session:
            await outbound.enqueue(session, clock=clock, key="digest:1", to=telegram(VOLUNTEER_TG), text="今日提醒")
            await session.commit()
        clock.advance(timedelta(seconds=2))
        await eventually(lambda: "今日提醒" in tg.texts(VOLUNTEER_TG))

        await first.stop()  # a clean stop hands the duties over at the other's next check
        await eventually(lambda: second.leading)
        tg.push_update(visits_update(8101, Person(tg, VOLUNTEER_TG, "zh-hans", deliver)))
        await eventually(lambda: any("我的探访" in text for text in tg.texts(VOLUNTEER_TG)))
        async with session_factory() as session:
            await outbound.enqueue(session, clock=clock, key="digest:2", to=telegram(VOLUNTEER_TG), text="明日提醒")
            await session.commit()
        clock.advance(timedelta(seconds=2))
        await eventually(lambda: "明日提醒" in tg.texts(VOLUNTEER_TG))
        assert tg.texts(VOLUNTEER_TG).count("今日提醒") == 1  # nothing sent twice across the hand-over
    finally:
        await first.stop()
        await second.stop()
