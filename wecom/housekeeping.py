"""Forgetting old callbacks: a `wecom_events` row exists only to drop WeCom's retries and replays of a callback,
and WeCom retries within minutes (a replay is refused by its timestamp long before). A week is ample; without
pruning the table grows with every tap and message for ever.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.storage.models import WeComEvent

KEEP = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)


async def prune_wecom_events(session: AsyncSession, *, clock: Clock, older_than: timedelta = KEEP) -> int:
    """Delete the callbacks received more than `older_than` ago; how many went. The caller commits."""
    cutoff = clock.now() - older_than
    result = await session.exec(delete(WeComEvent).where(col(WeComEvent.received_at) < cutoff))  # type: ignore[call-overload]
    return int(result.rowcount or 0)
