"""The pager port: how escalation sends an SMS or places a call, and asks the provider what became of one.

Adapters translate their vendor's errors into three kinds, because what is safe to do next differs:

- `NotProcessed`: the provider certainly did not act (rate limited, connection refused) — retry at once;
- `TemporaryError`: it may or may not have acted (timeout, 5xx) — ask it (`lookup`/`find_recent`) before resending;
- `PermanentError`: it never will (invalid or unsubscribed number) — give up on this message and move on;
  its `NotFound` (a real 404) is what `lookup` turns into "no such message" — a refusal to answer (401, 403,
  400) is not, and is raised.

The port speaks in notices and voice scripts (`notices`), never free text: domestic providers send only approved
templates. What comes back — delivery receipts, key presses, replies — each adapter turns into `Signal`s
(`parse_push`); `pager_inbound` matches them to the pages we sent.

`ConsolePager` only logs (masked) and `FakePager` records what it was asked; `TwilioPager` is in `twilio_pager`,
`AliyunPager` in `aliyun_pager`, `TencentPager` in `tencent_pager`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from carevisit.care.phones import mask_phone
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
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


class CannotTell(PagerError):
    """`lookup` only: the provider has no lookup by id (Tencent's pulls are a queue or per number). Neither "no
    such message" (None, which would have it sent again) nor a failure to answer: the outbox asks `find_recent`
    for the number instead and looks for the sid (or our reference) among what it returns."""


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
    # Our outbox row's id as the provider echoes it (Aliyun OutId, Tencent SessionContext): when present it,
    # not the body, says which row a record belongs to (a template's text is not ours to compare).
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """One thing a provider pushed back, in our vocabulary.

    `kind` is "status" (a delivery receipt or call state: `status`, maybe `error_code`), "key" (a key pressed in a
    call: `key`) or "reply" (an SMS reply: `text`). `sid` is the provider's id of our message or call (None for a
    reply), `reference` our own id echoed back (OutId, SessionContext) when the provider has one, `to` the number in
    E.164. `evidence` is what the timeline records (never a phone number)."""

    kind: str
    to: str
    sid: str | None = None
    reference: str | None = None
    status: DeliveryStatus | None = None
    error_code: str | None = None
    key: str | None = None
    text: str | None = None
    at: datetime | None = None
    evidence: dict[str, str] = field(default_factory=dict)


class Pager(Protocol):
    name: str

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        """Send the notice (its approved template, or its text) or raise a PagerError subclass."""
        ...

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        """Place a call that says the script and listens for its `ack_key`, or raise a PagerError subclass."""
        ...

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        """The provider's record of a message or call, or None if it says it has none (a 404); raises a
        PagerError when it cannot or will not answer, `CannotTell` when it has no lookup by id."""
        ...

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        """Messages or calls to `to` created since `since`: how a row stuck in 'sending' is reconciled."""
        ...

    async def close(self) -> None: ...


class PushingPager(Pager, Protocol):
    """A provider that pushes receipts and key presses unsigned to `/pager/<name>/<secret>/<push type>`
    (Aliyun, Tencent). Twilio signs its webhooks and has its own routes (`webhooks`)."""

    # The push types as the provider names them (Aliyun SmsReport, …; Tencent sms_status, …).
    push_types: tuple[str, ...]
    # Whether `lookup(channel=VOICE, sid=…)` can tell that a call was answered by the callee we paged: a key
    # press is then confirmed that way before it stops an escalation (Aliyun yes; Tencent has no such pull).
    confirms_calls: bool

    def parse_push(self, push_type: str, body: bytes) -> list[Signal]:
        """The signals in one push; ValueError if it is not what the provider sends."""
        ...

    def push_answer(self) -> dict[str, object]:
        """The JSON the provider expects back, or it pushes again."""
        ...


def pushing(pager: Pager) -> PushingPager | None:
    """The pager as one whose provider pushes unsigned (a domestic one), or None (Twilio signs; the console has
    nothing to push)."""
    return pager if hasattr(pager, "parse_push") else None  # type: ignore[return-value]


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


# Every sid the console pager makes starts so, and the outbox keeps it (`provider_sid`): how a page it "sent" is
# told from one a provider took. Its rows still read `sent`, so the engine moves on through the steps as it would
# (the demo shows the chain); only what people read must say nothing went out.
CONSOLE_SID_PREFIX = "CONSOLE-"


def not_really_sent(sid: str | None) -> bool:
    """Whether a page's sid is the console pager's: logged, never sent to anyone."""
    return bool(sid) and str(sid).startswith(CONSOLE_SID_PREFIX)


class ConsolePager:
    """No provider configured: log (masked) what would have been sent. Nothing reaches anyone; its sids say so
    (`not_really_sent`)."""

    name = "console"

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        log.warning("console pager: NOT sending a %s SMS to %s", notice.kind, mask_phone(to))
        return Sent(_console_sid("SM"), DeliveryStatus.SENT)

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        log.warning("console pager: NOT placing a %s call to %s", script.kind, mask_phone(to))
        return Sent(_console_sid("CA"), DeliveryStatus.SENT)

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        return None

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        return []

    async def close(self) -> None:
        return None


def _console_sid(prefix: str) -> str:
    # Unique across restarts and processes: a sid belongs to one outbox row.
    return f"{CONSOLE_SID_PREFIX}{prefix}{uuid.uuid4().hex}"


@dataclass
class FakePager:
    """For unit tests: records what it was asked and knows what it sent; `failures` are raised first, in order."""

    name: str = "fake"
    records: list[ProviderRecord] = field(default_factory=list)
    failures: list[PagerError] = field(default_factory=list)

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        return self._record(Channel.SMS, to, notice.text)

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        return self._record(Channel.VOICE, to, script.text)

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
