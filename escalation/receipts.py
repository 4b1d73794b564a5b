"""Receipts of signed Twilio requests already acted on, so that a replay changes nothing.

A valid signature proves Twilio sent a request once, not that this is the first time we see it: Twilio retries a
webhook it got no answer to, and anyone who captured a request can send it again. An inbound SMS is acted on once
per `MessageSid`, a keypress once per `CallSid` and digit; the unique key lives in the database.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.storage.models import TwilioReceipt


async def first_time(session: AsyncSession, *, clock: Clock, key: str) -> bool:
    """Record `key` in the caller's transaction; False if it was already recorded. A concurrent first time
    raises IntegrityError at the flush or commit: the caller treats that as a replay too."""
    seen = await session.exec(select(TwilioReceipt.id).where(TwilioReceipt.key == key))
    if seen.first() is not None:
        return False
    session.add(TwilioReceipt(key=key[:100], received_at=clock.now()))
    await session.flush()
    return True
