"""The rate-limited sender that drains one channel's rows of `chat_outbox` through the `Notifier` port.

One sender per channel, so a pause on one (Telegram's 429) never holds the other back. Limits: Telegram's are about
30 messages a second in all and about 1 a second to any one chat; WeCom's are 30 a minute and 1,000 an hour to one
member, the excess *silently dropped* (`WECOM_LIMITS`). A `RateLimited` (429) pauses all of the channel's sending for
`retry_after`; a `TemporaryFailure` retries with exponential backoff; a
`PermanentFailure` (blocked, chat gone) gives up on that message.

Each row is marked `sending` in its own committed transaction *before* the provider call, and its result is
committed right after. A row found still `sending` after `stale_after` means the process died mid-call: Telegram
cannot tell us whether that message arrived, so we choose **at-least-once** and send it again (counted as an
attempt, with a note in `error`; after `max_attempts` it is given up like any other failing message). A
reminder or a status update shown twice, rarely, is an annoyance; an emergency update to a volunteer that
silently never arrives is harm.

`run_cycle()` does one pass and is what tests call with a `FakeClock`; `run()` loops it until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.care.ports import (
    TELEGRAM,
    Button,
    ChatMessage,
    Notifier,
    PermanentFailure,
    RateLimited,
    Recipient,
    TemporaryFailure,
)
from carevisit.storage.enums import DeliveryStatus
from carevisit.storage.models import ChatOutboxMessage

log = logging.getLogger(__name__)

_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)


@dataclass(frozen=True, slots=True)
class SenderLimits:
    per_second: int = 30  # all chats together
    per_chat_interval: timedelta = timedelta(seconds=1)
    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=5)
    max_backoff: timedelta = timedelta(minutes=10)
    stale_after: timedelta = timedelta(minutes=2)  # a send call times out long before this
    batch: int = 200  # rows looked at per cycle


# One message to a member every 2 s keeps under 30 a minute, and so under 1,000 an hour.
WECOM_LIMITS = SenderLimits(per_second=20, per_chat_interval=timedelta(seconds=2))


@dataclass
class CycleResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused_until: datetime | None = None


def backoff(attempts: int, limits: SenderLimits) -> timedelta:
    """Delay before the next try after `attempts` failed ones: 5 s, 10 s, 20 s … capped."""
    return min(limits.first_backoff * (2 ** max(attempts - 1, 0)), limits.max_backoff)


def message_of(row: ChatOutboxMessage) -> ChatMessage:
    buttons = tuple(
        tuple(Button(text=b["text"], callback_data=b["callback_data"]) for b in line) for line in (row.buttons or [])
    )
    return ChatMessage(to=Recipient(row.channel, row.recipient), text=row.text, buttons=buttons, link=row.link)


@dataclass
class ChatSender:
    sessions: async_sessionmaker[AsyncSession]
    notifier: Notifier
    clock: Clock
    limits: SenderLimits = field(default_factory=SenderLimits)
    channel: str = TELEGRAM  # the rows this sender drains
    paused_until: datetime | None = None
    # In memory: one sender process drains the queue (see `carevisit run`); a restart forgets at most a second.
    _recent: deque[datetime] = field(default_factory=deque)
    _last_to_chat: dict[str, datetime] = field(default_factory=dict)

    async def run_cycle(self) -> CycleResult:
        """Send what is due now within the limits; returns what happened. Never raises a NotifierError."""
        result = CycleResult()
        now = self.clock.now()
        if self.paused_until is not None and now < self.paused_until:
            result.paused_until = self.paused_until
            return result
        self.paused_until = None
        await self._requeue_stale(now, result)
        for row_id, chat_id in await self._due(now):
            now = self.clock.now()
            if not self._may_send(chat_id, now):
                continue
            if not await self._mark_sending(row_id, now):
                continue  # another sender took it, or it changed under us
            outcome = await self._send_one(row_id, result)
            if outcome == "paused":
                break
        return result

    async def run(self, stop: asyncio.Event, *, idle: float = 0.5) -> None:
        """Loop cycles until `stop` is set; a crash in one cycle is logged and the loop goes on."""
        while not stop.is_set():
            try:
                result = await self.run_cycle()
                wait = idle
                if result.paused_until is not None:
                    wait = max((result.paused_until - self.clock.now()).total_seconds(), 0.05)
                elif result.sent:
                    wait = 0.05  # more may be waiting only for the per-second budget
            except Exception:  # a database hiccup must not end the sender for good
                log.exception("chat sender cycle failed")
                wait = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    def _may_send(self, chat_id: str, now: datetime) -> bool:
        window = timedelta(seconds=1)
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        if len(self._recent) >= self.limits.per_second:
            return False
        last = self._last_to_chat.get(chat_id)
        return last is None or now - last >= self.limits.per_chat_interval

    def _spent(self, chat_id: str, now: datetime) -> None:
        self._recent.append(now)
        self._last_to_chat[chat_id] = now

    async def _due(self, now: datetime) -> list[tuple[int, str]]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(ChatOutboxMessage.id, ChatOutboxMessage.recipient)
                .where(
                    col(ChatOutboxMessage.channel) == self.channel,
                    col(ChatOutboxMessage.status).in_(_WAITING),
                    col(ChatOutboxMessage.not_before) <= now,
                )
                .order_by(col(ChatOutboxMessage.not_before), col(ChatOutboxMessage.id))
                .limit(self.limits.batch)
            )
            return [(row_id, chat_id) for row_id, chat_id in rows.all() if row_id is not None]

    async def _requeue_stale(self, now: datetime, result: CycleResult) -> None:
        """Rows a dead process left `sending` go back to the queue; their interrupted call already counted as an
        attempt (`_mark_sending`), and one whose attempts are used up is given up, so a message that kills the
        sender every time is not sent for ever."""
        stale = (
            col(ChatOutboxMessage.channel) == self.channel,
            col(ChatOutboxMessage.status) == DeliveryStatus.SENDING,
            col(ChatOutboxMessage.sending_started_at) < now - self.limits.stale_after,
        )
        async with self.sessions() as session:
            given_up = await session.exec(
                update(ChatOutboxMessage)
                .where(*stale, col(ChatOutboxMessage.attempts) >= self.limits.max_attempts)
                .values(status=DeliveryStatus.FAILED, error="interrupted mid-send on every attempt")
                .returning(col(ChatOutboxMessage.id), col(ChatOutboxMessage.attempts))
            )
            for row_id, attempts in given_up.all():
                result.failed += 1
                log.warning("chat sender: message %s failed after %d attempts", row_id, attempts)
            requeued = await session.exec(
                update(ChatOutboxMessage)
                .where(*stale)
                .values(status=DeliveryStatus.PENDING, not_before=now, error="interrupted mid-send; sending again")
            )
            await session.commit()
            if requeued.rowcount:
                log.warning("chat sender: %d message(s) interrupted mid-send are sent again", requeued.rowcount)

    async def _mark_sending(self, row_id: int, now: datetime) -> bool:
        async with self.sessions() as session:
            result = await session.exec(
                update(ChatOutboxMessage)
                .where(col(ChatOutboxMessage.id) == row_id, col(ChatOutboxMessage.status).in_(_WAITING))
                .values(
                    status=DeliveryStatus.SENDING,
                    sending_started_at=now,
                    attempts=ChatOutboxMessage.attempts + 1,  # type: ignore[operator]
                )
            )
            await session.commit()
            return bool(result.rowcount)

    async def _send_one(self, row_id: int, result: CycleResult) -> str:
        async with self.sessions() as session:
            row = await session.get(ChatOutboxMessage, row_id)
            assert row is not None
            self._spent(row.recipient, self.clock.now())
            try:
                await self.notifier.send(message_of(row))
            except RateLimited as error:
                now = self.clock.now()
                pause = timedelta(seconds=max(error.retry_after, 1))
                self.paused_until = result.paused_until = now + pause
                # Not the message's fault: back to the queue without using up an attempt.
                row.status, row.attempts, row.not_before = DeliveryStatus.PENDING, row.attempts - 1, now + pause
                row.error = f"rate limited for {error.retry_after}s"
                log.warning("chat sender: rate limited, pausing all sending for %ss", error.retry_after)
                outcome = "paused"
            except PermanentFailure as error:
                row.status, row.error = DeliveryStatus.FAILED, str(error)[:500]
                result.failed += 1
                log.info("chat sender: %s message %s given up: %s", row.channel, row.id, error)
                outcome = "failed"
            except Exception as error:  # TemporaryFailure, or a bug: either way never left stuck mid-send
                if not isinstance(error, TemporaryFailure):
                    log.error("chat sender: message %s failed unexpectedly: %s", row.id, type(error).__name__)
                now = self.clock.now()
                row.error = str(error)[:500] if isinstance(error, TemporaryFailure) else type(error).__name__
                if row.attempts >= self.limits.max_attempts:
                    row.status = DeliveryStatus.FAILED
                    result.failed += 1
                    log.warning("chat sender: message %s failed after %d attempts", row.id, row.attempts)
                else:
                    row.status = DeliveryStatus.TEMPORARY_FAILURE
                    row.not_before = now + backoff(row.attempts, self.limits)
                    result.retried += 1
                outcome = "retry"
            else:
                row.status, row.sent_at, row.error = DeliveryStatus.SENT, self.clock.now(), None
                result.sent += 1
                outcome = "sent"
            session.add(row)
            await session.commit()
            return outcome


async def pending_count(session: AsyncSession) -> int:
    rows = await session.exec(
        select(ChatOutboxMessage.id).where(
            or_(col(ChatOutboxMessage.status).in_(_WAITING), col(ChatOutboxMessage.status) == DeliveryStatus.SENDING)
        )
    )
    return len(rows.all())
