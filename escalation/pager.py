"""The pager port: how escalation sends an SMS or places a call, and asks the provider what became of one.

Adapters translate their vendor's errors into three kinds, because what is safe to do next differs:

- `NotProcessed`: the provider certainly did not act (rate limited, connection refused) — retry at once;
- `TemporaryError`: it may or may not have acted (timeout, 5xx) — ask it (`lookup`/`find_recent`) before resending;
- `PermanentError`: it never will (invalid or unsubscribed number) — give up on this message and move on;
  its `NotFound` (a real 404) is what `lookup` turns into "no such message" — a refusal to answer (401, 403,
  400) is not, and is raised.

`ConsolePager` only logs (masked) and `FakePager` records what it was asked; `TwilioPager` is in `twilio_pager`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from carevisit.care.phones import mask_phone
from carevisit.storage.enums import Channel, DeliveryStatus

log = logging.getLogger(__name__)


class PagerError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotProcessed(PagerError):
    """Certainly not acted on: safe to retry at once."""


class TemporaryError(PagerError):
    """Perhaps acted on: look the message up before sending it again."""


class PermanentError(PagerError):
    """Will never succeed for this message."""


class NotFound(PermanentError):
    """The provider has no such message or call (its 404) — the only answer that means "no trace"."""


@dataclass(frozen=True, slots=True)
class Sent:
    """What the provider said when it accepted a message or call."""

    sid: str
    status: DeliveryStatus


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """A message or call as the provider knows it."""

    sid: str
    channel: Channel
    to: str
    status: DeliveryStatus
    created_at: datetime | None = None
    body: str | None = None


class Pager(Protocol):
    name: str

    async def send_sms(self, *, to: str, body: str, status_callback: str | None) -> Sent:
        """Send an SMS or raise a PagerError subclass."""
        ...

    async def place_call(self, *, to: str, twiml_url: str, status_callback: str | None) -> Sent:
        """Place a voice call whose script is fetched from `twiml_url`, or raise a PagerError subclass."""
        ...

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        """The provider's record of a message or call, or None if it says it has none (a 404); raises a
        PagerError when it cannot or will not answer."""
        ...

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        """Messages or calls to `to` created since `since`: how a row stuck in 'sending' is reconciled."""
        ...

    async def close(self) -> None: ...


# Twilio's statuses (messages and calls) in our vocabulary.
PROVIDER_STATUSES: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "initiated": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "ringing": DeliveryStatus.RINGING,
    "in-progress": DeliveryStatus.IN_PROGRESS,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "completed": DeliveryStatus.COMPLETED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "no-answer": DeliveryStatus.NO_ANSWER,
    "busy": DeliveryStatus.BUSY,
    "canceled": DeliveryStatus.CANCELED,
}


def provider_status(text: str | None) -> DeliveryStatus | None:
    return PROVIDER_STATUSES.get((text or "").lower())


class ConsolePager:
    """No provider configured: log (masked) what would have been sent. Nothing reaches anyone."""

    name = "console"

    async def send_sms(self, *, to: str, body: str, status_callback: str | None) -> Sent:
        log.warning("console pager: NOT sending an SMS to %s (%d characters)", mask_phone(to), len(body))
        return Sent(_console_sid("SM"), DeliveryStatus.SENT)

    async def place_call(self, *, to: str, twiml_url: str, status_callback: str | None) -> Sent:
        log.warning("console pager: NOT calling %s", mask_phone(to))
        return Sent(_console_sid("CA"), DeliveryStatus.SENT)

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        return None

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        return []

    async def close(self) -> None:
        return None


def _console_sid(prefix: str) -> str:
    # Unique across restarts and processes: a sid belongs to one outbox row.
    return f"CONSOLE-{prefix}{uuid.uuid4().hex}"


@dataclass
class FakePager:
    """For unit tests: records what it was asked and knows what it sent; `failures` are raised first, in order."""

    name: str = "fake"
    records: list[ProviderRecord] = field(default_factory=list)
    failures: list[PagerError] = field(default_factory=list)

    async def send_sms(self, *, to: str, body: str, status_callback: str | None) -> Sent:
        return self._record(Channel.SMS, to, body)

    async def place_call(self, *, to: str, twiml_url: str, status_callback: str | None) -> Sent:
        return self._record(Channel.VOICE, to, twiml_url)

    def _record(self, channel: Channel, to: str, body: str) -> Sent:
        if self.failures:
            raise self.failures.pop(0)
        sid = f"{'SM' if channel == Channel.SMS else 'CA'}{len(self.records) + 1:032d}"
        self.records.append(ProviderRecord(sid, channel, to, DeliveryStatus.QUEUED, body=body))
        return Sent(sid, DeliveryStatus.QUEUED)

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        return next((r for r in self.records if r.sid == sid and r.channel == channel), None)

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        return [r for r in self.records if r.channel == channel and r.to == to]

    async def close(self) -> None:
        return None
