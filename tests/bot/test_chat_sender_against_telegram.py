"""The chat sender against the harsh fake Bot API, through the real aiogram Bot: a 429 pauses all sending for its
retry_after (and not a call is wasted meanwhile), a block is given up at once, a 5xx is retried with backoff, and
nothing is ever left stuck mid-send."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_sender import ChatSender
from carevisit.bot.notifier import TelegramNotifier
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.storage.enums import DeliveryStatus
from carevisit.storage.models import ChatOutboxMessage
from tests.bot.fake_telegram import FakeTelegram, flood, server_error
from tests.factories import telegram


async def queue(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, messages: list[tuple[int, str]]) -> None:
    async with sessions() as session:
        for n, (chat_id, text) in enumerate(messages):
            await outbound.enqueue(session, clock=clock, key=f"t:{n}", to=telegram(chat_id), text=text)
        await session.commit()


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[ChatOutboxMessage]:
    async with sessions() as session:
        return list((await session.exec(select(ChatOutboxMessage).order_by(col(ChatOutboxMessage.id)))).all())


def sends(tg: FakeTelegram, chat_id: int | None = None) -> int:
    return sum(
        1 for c in tg.calls if c.method == "sendMessage" and (chat_id is None or int(c.params["chat_id"]) == chat_id)
    )


async def test_a_429_pauses_all_sending_for_retry_after_without_a_wasted_call(
    tg: FakeTelegram,
    bot: Bot,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    await queue(session_factory, clock, [(101, "一"), (102, "二"), (103, "三")])
    tg.fail("sendMessage", flood(30))  # Telegram then refuses every call for 30 s
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    assert (await sender.run_cycle()).paused_until == clock.now() + timedelta(seconds=30)
    for _ in range(29):
        clock.advance(timedelta(seconds=1))
        await sender.run_cycle()
    assert sends(tg) == 1 and len(tg.refused()) == 1  # nothing was tried while Telegram said wait
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).sent == 3
    assert [tg.texts(c) for c in (101, 102, 103)] == [["一"], ["二"], ["三"]]
    assert [r.attempts for r in await rows(session_factory)] == [1, 1, 1]  # the 429 used up no attempt


async def test_a_chat_that_blocked_the_bot_is_given_up_at_once_and_the_others_go_on(
    tg: FakeTelegram,
    bot: Bot,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    tg.block(101)
    await queue(session_factory, clock, [(101, "一"), (102, "二"), (101, "三")])
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    for _ in range(10):
        await sender.run_cycle()
        clock.advance(timedelta(minutes=30))
    assert sends(tg, 101) == 2  # each message tried once, never again
    assert tg.texts(102) == ["二"]
    blocked = [r for r in await rows(session_factory) if r.recipient == "101"]
    assert [(r.status, r.error) for r in blocked] == [
        (DeliveryStatus.FAILED, "Forbidden: bot was blocked by the user")
    ] * 2


async def test_server_errors_are_retried_with_growing_backoff(
    tg: FakeTelegram,
    bot: Bot,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    await queue(session_factory, clock, [(101, "一")])
    tg.fail("sendMessage", server_error(502), server_error(503))
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    tried_at = []
    for second in range(30):
        before = sends(tg)
        await sender.run_cycle()
        if sends(tg) > before:
            tried_at.append(second)
        clock.advance(timedelta(seconds=1))
    assert tried_at == [0, 5, 15]  # then 5 s, then 10 s later
    assert tg.texts(101) == ["一"]
    assert [r.status for r in await rows(session_factory)] == [DeliveryStatus.SENT]


async def test_a_proxys_error_page_is_a_temporary_failure_not_a_message_stuck_mid_send(
    tg: FakeTelegram,
    bot: Bot,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    await queue(session_factory, clock, [(101, "一")])
    tg.fail("sendMessage", server_error(502, html=True))
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    assert (await sender.run_cycle()).retried == 1
    [row] = await rows(session_factory)
    assert row.status == DeliveryStatus.TEMPORARY_FAILURE
    clock.advance(timedelta(seconds=5))
    assert (await sender.run_cycle()).sent == 1


async def test_text_telegram_cannot_parse_is_given_up_with_its_reason(
    tg: FakeTelegram,
    bot: Bot,
    session_factory,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    await queue(session_factory, clock, [(101, "陈<奶奶>")])  # a name someone forgot to escape
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    assert (await sender.run_cycle()).failed == 1
    [row] = await rows(session_factory)
    assert row.status == DeliveryStatus.FAILED and "can't parse entities" in (row.error or "")
