"""Messages a volunteer must get even when Telegram fails right then: the emergency numbers, the elder's contacts,
the epidemic instructions.

Sent at once; when Telegram refuses or fails (a hiccup, a 429), the message and the ones after it are queued in
the chat outbox and committed, so the chat sender delivers them in order, with its retries and its pause on 429.
Keys are per update, so a retried update queues nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.notifier import TelegramNotifier
from carevisit.care import outbound
from carevisit.care.clock import Clock
from carevisit.care.ports import TELEGRAM, Button, ChatMessage, NotifierError, Recipient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Urgent:
    key: str  # the outbox idempotency key, should it have to be queued
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


async def send_or_queue(bot: Bot, session: AsyncSession, *, clock: Clock, chat_id: int, messages: list[Urgent]) -> int:
    """Send `messages` in order; from the first Telegram refuses, queue the rest. Returns how many were sent now."""
    notifier, to = TelegramNotifier(bot), Recipient(TELEGRAM, str(chat_id))
    for sent, message in enumerate(messages):
        try:
            await notifier.send(ChatMessage(to=to, text=message.text, buttons=message.buttons))
        except NotifierError as error:
            log.warning("telegram refused an urgent message to chat %s (%s): queued", chat_id, type(error).__name__)
            for later in messages[sent:]:
                await outbound.enqueue(
                    session, clock=clock, key=later.key, to=to, text=later.text, buttons=later.buttons
                )
            await session.commit()
            return sent
    return len(messages)
