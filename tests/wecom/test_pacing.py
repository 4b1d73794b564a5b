"""The chat sender with WECOM_LIMITS through the WeCom notifier to the fake, which silently drops a member's 31st
message in a minute as WeCom does: 40 messages queued for one member in a minute all arrive, paced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_sender import WECOM_LIMITS, ChatSender, SenderLimits
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.care.ports import WECOM, Recipient
from carevisit.wecom.client import WeComClient
from carevisit.wecom.notifier import WeComNotifier
from tests.wecom.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom

MEMBER = "zhangwei"


@pytest.fixture
async def notifier(wecom: FakeWeCom, clock: FakeClock) -> AsyncIterator[WeComNotifier]:
    async with WeComClient(CORP_ID, AGENT_ID, SECRET, wecom.api_base, clock) as client:
        yield WeComNotifier(client)


async def queue(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, count: int) -> None:
    async with sessions() as session:
        for n in range(count):
            await outbound.enqueue(
                session, clock=clock, key=f"pacing:{n}", to=Recipient(WECOM, MEMBER), text=f"第{n + 1}条提醒"
            )
        await session.commit()


async def drain(sender: ChatSender, clock: FakeClock, *, step: timedelta, until: int) -> int:
    sent = 0
    for _ in range(400):
        sent += (await sender.run_cycle()).sent
        if sent >= until:
            return sent
        clock.advance(step)
    return sent


async def test_forty_messages_to_one_member_all_arrive(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, wecom: FakeWeCom, notifier: WeComNotifier
) -> None:
    await queue(session_factory, clock, 40)
    sender = ChatSender(session_factory, notifier, clock, limits=WECOM_LIMITS, channel=WECOM)

    assert await drain(sender, clock, step=timedelta(milliseconds=500), until=40) == 40

    assert wecom.dropped_to(MEMBER) == []
    texts = [d.message["content"] for d in wecom.delivered_to(MEMBER)]
    assert texts == [f"第{n + 1}条提醒" for n in range(40)]


async def test_without_the_pacing_the_fake_drops_the_excess_silently(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, wecom: FakeWeCom, notifier: WeComNotifier
) -> None:
    """The harshness the pacing is for: every send answered "ok", ten of them never delivered."""
    await queue(session_factory, clock, 40)
    telegram_like = SenderLimits(per_chat_interval=timedelta(seconds=1))
    sender = ChatSender(session_factory, notifier, clock, limits=telegram_like, channel=WECOM)

    assert await drain(sender, clock, step=timedelta(seconds=1), until=40) == 40

    assert len(wecom.dropped_to(MEMBER)) == 10
