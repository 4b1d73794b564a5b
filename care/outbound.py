"""Queueing chat messages for the rate-limited sender (the scheduler's worker drains `chat_outbox`).

Anything below the bot that wants to tell a volunteer or coordinator something (a digest, an acknowledgement,
a new incident) queues it here in its own transaction, to the person's `Recipient` (`care.people.chat_recipient`);
nothing calls the bot or WeCom directly.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.care.ports import Button, Recipient
from carevisit.storage.models import ChatOutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    clock: Clock,
    key: str,
    to: Recipient,
    text: str,
    buttons: tuple[tuple[Button, ...], ...] = (),
    link: str | None = None,
) -> bool:
    """Queue a message once per `key`. Returns False, changing nothing, if that key was queued before.

    Does not commit; uses a savepoint so a duplicate key leaves the caller's transaction usable.
    """
    existing = await session.exec(select(ChatOutboxMessage.id).where(ChatOutboxMessage.idempotency_key == key))
    if existing.first() is not None:
        return False
    now = clock.now()
    row = ChatOutboxMessage(
        idempotency_key=key,
        channel=to.channel,
        recipient=to.id,
        text=text,
        buttons=[[{"text": b.text, "callback_data": b.callback_data} for b in row] for row in buttons] or None,
        link=link,
        not_before=now,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:  # queued concurrently by another process
        return False
    return True
