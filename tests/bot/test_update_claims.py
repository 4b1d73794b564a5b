"""Several processes handle stored updates: each update once, each chat's updates in order, and a chat claimed by a
process that died is taken over once its claim expires."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.updates import CLAIM_LEASE, UpdateProcessor, store_updates
from carevisit.care.clock import FakeClock
from carevisit.storage.models import TelegramChatClaim, TelegramUpdate

CHATS = (501, 502, 503, 504, 505)


def text_update(update_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1773108000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "志愿者"},
            "text": f"第{update_id}条",
        },
    }


def recording_process(name: str, handled: list[tuple[str, int, int]], session_factory, clock, bot) -> UpdateProcessor:  # type: ignore[no-untyped-def]
    """One service process: a dispatcher whose only handler records who handled which update of which chat."""
    router = Router()

    @router.message()
    async def record(message: Message) -> None:
        await asyncio.sleep(0)  # give the other process a chance to interleave
        handled.append((name, message.chat.id, message.message_id))

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return UpdateProcessor(session_factory, dispatcher, bot, clock, asyncio.Event(), holder=name)


async def test_two_processes_handle_each_update_once_and_each_chat_in_order(
    session_factory,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    clock: FakeClock,
    bot: Bot,
) -> None:
    updates = [text_update(9000 + n, CHATS[n % len(CHATS)]) for n in range(60)]
    await store_updates(session_factory, clock=clock, payloads=updates)
    handled: list[tuple[str, int, int]] = []
    first = recording_process("first", handled, session_factory, clock, bot)
    second = recording_process("second", handled, session_factory, clock, bot)

    while len(handled) < len(updates):
        done = await asyncio.gather(first.run_cycle(limit=2), second.run_cycle(limit=2))
        assert sum(done) > 0, "neither process made progress"

    ids = [update_id for _, _, update_id in handled]
    assert sorted(ids) == [u["update_id"] for u in updates]  # each once
    for chat in CHATS:
        in_chat = [update_id for _, c, update_id in handled if c == chat]
        assert in_chat == sorted(in_chat), f"chat {chat} out of order"
    assert (await session.exec(select(TelegramChatClaim))).all() == []  # every claim given back


async def test_a_chat_claimed_by_a_process_that_died_waits_for_the_claim_to_expire(
    session_factory,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    clock: FakeClock,
    bot: Bot,
) -> None:
    await store_updates(session_factory, clock=clock, payloads=[text_update(9100, 601), text_update(9101, 602)])
    session.add(TelegramChatClaim(chat_id=601, holder="dead-process", expires_at=clock.now() + CLAIM_LEASE))
    await session.commit()
    handled: list[tuple[str, int, int]] = []
    survivor = recording_process("survivor", handled, session_factory, clock, bot)

    assert await survivor.run_cycle() == 1  # the free chat only
    assert [(chat, update_id) for _, chat, update_id in handled] == [(602, 9101)]

    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await survivor.run_cycle() == 1
    assert [(chat, update_id) for _, chat, update_id in handled][-1] == (601, 9100)
    pending = (await session.exec(select(TelegramUpdate).where(col(TelegramUpdate.processed_at).is_(None)))).all()
    assert pending == []
