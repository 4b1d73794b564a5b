"""The chat sender drains the outbox within Telegram's limits, pauses on a 429, retries and gives up sensibly."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_sender import WECOM_LIMITS, ChatSender, SenderLimits
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.care.ports import (
    WECOM,
    Button,
    ChatMessage,
    FakeNotifier,
    PermanentFailure,
    RateLimited,
    Recipient,
    TemporaryFailure,
)
from carevisit.storage.enums import DeliveryStatus
from carevisit.storage.models import ChatOutboxMessage
from tests.factories import telegram


async def queue(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, chats: list[int]) -> None:
    async with sessions() as session:
        for n, chat_id in enumerate(chats):
            await outbound.enqueue(session, clock=clock, key=f"test:{n}", to=telegram(chat_id), text=f"message {n}")
        await session.commit()


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> list[DeliveryStatus]:
    async with sessions() as session:
        rows = await session.exec(select(ChatOutboxMessage).order_by(col(ChatOutboxMessage.id)))
        return [row.status for row in rows.all()]


async def test_sends_at_most_thirty_a_second_in_all(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, list(range(1, 46)))
    notifier = FakeNotifier()
    sender = ChatSender(session_factory, notifier, clock)
    assert (await sender.run_cycle()).sent == 30
    assert (await sender.run_cycle()).sent == 0  # the clock has not moved: the second's budget is spent
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).sent == 15
    assert [m.text for m in notifier.sent] == [f"message {n}" for n in range(45)]
    assert set(await statuses(session_factory)) == {DeliveryStatus.SENT}


async def test_one_chat_gets_one_message_a_second_in_order(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [7, 7, 7, 8])
    notifier = FakeNotifier()
    sender = ChatSender(session_factory, notifier, clock)
    await sender.run_cycle()
    assert [(m.to.id, m.text) for m in notifier.sent] == [("7", "message 0"), ("8", "message 3")]
    clock.advance(timedelta(milliseconds=500))
    await sender.run_cycle()
    assert len(notifier.sent) == 2
    clock.advance(timedelta(milliseconds=500))
    await sender.run_cycle()
    clock.advance(timedelta(seconds=1))
    await sender.run_cycle()
    assert [m.text for m in notifier.sent if m.to.id == "7"] == ["message 0", "message 1", "message 2"]


async def test_a_429_pauses_all_sending_for_retry_after(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [1, 2, 3])
    notifier = FakeNotifier(failures=[RateLimited(retry_after=20)])
    sender = ChatSender(session_factory, notifier, clock)
    result = await sender.run_cycle()
    assert result.sent == 0 and result.paused_until == clock.now() + timedelta(seconds=20)
    clock.advance(timedelta(seconds=19))
    assert (await sender.run_cycle()).sent == 0
    assert notifier.sent == []
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).sent == 3
    async with session_factory() as session:
        query = select(ChatOutboxMessage).where(ChatOutboxMessage.idempotency_key == "test:0")
        first = (await session.exec(query)).one()
    assert first.attempts == 1  # the 429 did not count against the message


async def test_a_temporary_failure_retries_with_growing_backoff(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [1])
    notifier = FakeNotifier(failures=[TemporaryFailure("502"), TemporaryFailure("502")])
    sender = ChatSender(session_factory, notifier, clock)
    assert (await sender.run_cycle()).retried == 1
    clock.advance(timedelta(seconds=4))
    assert (await sender.run_cycle()).retried == 0  # not due before 5 s
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).retried == 1
    clock.advance(timedelta(seconds=9))
    assert (await sender.run_cycle()).sent == 0  # second backoff is 10 s
    clock.advance(timedelta(seconds=1))
    assert (await sender.run_cycle()).sent == 1
    assert await statuses(session_factory) == [DeliveryStatus.SENT]


async def test_a_permanent_failure_gives_up_and_the_rest_go_on(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [1, 2])
    notifier = FakeNotifier(failures=[PermanentFailure("bot was blocked by the user")])
    sender = ChatSender(session_factory, notifier, clock)
    result = await sender.run_cycle()
    assert (result.failed, result.sent) == (1, 1)
    clock.advance(timedelta(hours=1))
    await sender.run_cycle()
    assert [m.to.id for m in notifier.sent] == ["2"]
    assert await statuses(session_factory) == [DeliveryStatus.FAILED, DeliveryStatus.SENT]


async def test_a_message_left_sending_by_a_crash_is_sent_again_once_stale(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [1])
    async with session_factory() as session:
        row = (await session.exec(select(ChatOutboxMessage))).one()
        row.status, row.sending_started_at, row.attempts = DeliveryStatus.SENDING, clock.now(), 1
        session.add(row)
        await session.commit()
    notifier = FakeNotifier()
    sender = ChatSender(session_factory, notifier, clock)
    await sender.run_cycle()
    assert notifier.sent == []  # maybe still in flight in the crashed process's last moments
    clock.advance(timedelta(minutes=3))
    await sender.run_cycle()
    assert [m.text for m in notifier.sent] == ["message 0"]
    assert await statuses(session_factory) == [DeliveryStatus.SENT]


class ProcessDied(BaseException):
    """The process is killed in the middle of the send call: nothing in the sender gets to handle it."""


async def test_a_message_that_kills_the_sender_every_time_is_given_up_after_the_max_attempts(
    session_factory, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await queue(session_factory, clock, [1])
    limits = SenderLimits(max_attempts=3)
    for _ in range(limits.max_attempts):  # each try, a new process finds it stale and dies on it again
        notifier = FakeNotifier(failures=[ProcessDied()])  # type: ignore[list-item]
        with pytest.raises(ProcessDied):
            await ChatSender(session_factory, notifier, clock, limits).run_cycle()
        clock.advance(limits.stale_after + timedelta(seconds=1))
    notifier = FakeNotifier()
    with caplog.at_level(logging.WARNING):
        result = await ChatSender(session_factory, notifier, clock, limits).run_cycle()
    assert (result.failed, notifier.sent) == (1, [])
    assert await statuses(session_factory) == [DeliveryStatus.FAILED]
    assert "failed after 3 attempts" in caplog.text


async def test_buttons_reach_the_notifier(session_factory, clock: FakeClock) -> None:
    async with session_factory() as session:
        await outbound.enqueue(
            session, clock=clock, key="k", to=telegram(5), text="ack?", buttons=((Button("OK", "inc:ack:1"),),)
        )
        await session.commit()
    notifier = FakeNotifier()
    await ChatSender(session_factory, notifier, clock).run_cycle()
    assert notifier.sent[0].buttons == ((Button("OK", "inc:ack:1"),),)


async def test_an_unforeseen_error_in_sending_is_retried_never_left_sending(session_factory, clock: FakeClock) -> None:
    await queue(session_factory, clock, [1])
    notifier = FakeNotifier(failures=[ValueError("a bug")])  # type: ignore[list-item]
    sender = ChatSender(session_factory, notifier, clock)
    assert (await sender.run_cycle()).retried == 1
    assert await statuses(session_factory) == [DeliveryStatus.TEMPORARY_FAILURE]
    clock.advance(timedelta(seconds=5))
    assert (await sender.run_cycle()).sent == 1


async def test_each_channel_has_its_own_sender_and_a_pause_on_one_holds_up_nothing_on_the_other(
    session_factory, clock: FakeClock
) -> None:
    async with session_factory() as session:
        await outbound.enqueue(session, clock=clock, key="tg", to=telegram(7), text="电报")
        await outbound.enqueue(
            session, clock=clock, key="wc", to=Recipient(WECOM, "zhangsan"), text="企业微信", link="https://x/v/"
        )
        await session.commit()
    paused = FakeNotifier(failures=[RateLimited(retry_after=30)])
    wecom = FakeNotifier()
    await ChatSender(session_factory, paused, clock).run_cycle()
    await ChatSender(session_factory, wecom, clock, limits=WECOM_LIMITS, channel=WECOM).run_cycle()
    assert paused.sent == []
    assert wecom.sent == [ChatMessage(to=Recipient(WECOM, "zhangsan"), text="企业微信", link="https://x/v/")]


async def test_wecom_members_get_at_most_thirty_a_minute(session_factory, clock: FakeClock) -> None:
    async with session_factory() as session:
        for n in range(40):
            await outbound.enqueue(session, clock=clock, key=f"wc:{n}", to=Recipient(WECOM, "lisi"), text=f"{n}")
        await session.commit()
    notifier = FakeNotifier()
    sender = ChatSender(session_factory, notifier, clock, limits=WECOM_LIMITS, channel=WECOM)
    for _ in range(60):  # one minute, a cycle a second
        await sender.run_cycle()
        clock.advance(timedelta(seconds=1))
    assert len(notifier.sent) == 30
    assert [m.text for m in notifier.sent] == [str(n) for n in range(30)]  # in order, none dropped, the rest wait
