"""The domain's ports: what it needs from the outside world, named for the role. Adapters live above.

`Notifier` is implemented by the bot (Telegram), by WeCom (carevisit.wecom) and by `FakeNotifier` in tests. A chat
message goes to a `Recipient`: a channel and that channel's own id, as text, so Telegram chat ids and WeCom userids
live side by side and each person is reached on the channel they have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class NotifierError(Exception):
    """Base of what a notifier may raise; anything else is a bug."""


class RateLimited(NotifierError):
    """The messaging service asked us to pause all sending for `retry_after` seconds (Telegram's 429)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"rate limited, retry after {retry_after}s")


class TemporaryFailure(NotifierError):
    """Worth trying again later (network trouble, a 5xx)."""


class PermanentFailure(NotifierError):
    """Will never succeed (the user blocked the bot, the chat is gone): give up on this message."""


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    callback_data: str


TELEGRAM, WECOM = "telegram", "wecom"
CHANNELS = (TELEGRAM, WECOM)


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: str  # TELEGRAM | WECOM
    id: str  # a Telegram chat id ("123456") or a WeCom userid ("zhangsan")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    to: Recipient
    text: str  # HTML (Telegram's subset); the caller escapes user-supplied parts
    buttons: tuple[tuple[Button, ...], ...] = ()
    # A page showing the same thing: WeCom cards carry it, because members reading inside plain WeChat see no card.
    link: str | None = None


class Notifier(Protocol):
    async def send(self, message: ChatMessage) -> None:
        """Deliver one chat message or raise a NotifierError subclass."""
        ...


@dataclass
class FakeNotifier:
    """Records what it was asked to send; can be told to fail the next sends."""

    sent: list[ChatMessage] = field(default_factory=list)
    failures: list[NotifierError] = field(default_factory=list)

    async def send(self, message: ChatMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
