"""What the escalation engine, the outbox worker and the webhooks share: sessions, clock, pager, policy, URLs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.escalation import tokens
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.pager import Pager, pushing
from carevisit.escalation.provider_limits import Limits, defaults


@dataclass
class Escalation:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    pager: Pager
    config: EscalationConfig
    secret: bytes | None  # signs acknowledgement links; without it SMS ask for a reply instead
    public_url: str | None  # where Twilio reaches our webhooks; without it no callbacks, no links
    # The unguessable path part at which Aliyun and Tencent push receipts (`pager_inbound`); None: no pushes.
    callback_secret: str | None = None
    # The provider's frequency limits: the outbox paces each number within them (none for Twilio and the console).
    limits: Limits = field(default_factory=lambda: defaults("console"))
    language: str = "zh_CN"
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    _turns: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    @property
    def single_writer(self) -> bool:
        """SQLite: one write transaction at a time for the whole database."""
        return bool(self.sessions.kw["bind"].dialect.name == "sqlite")

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for one write transaction of the escalation loops. SQLite has a single writer: the loops of
        this process take turns here, first come first served, rather than in SQLite's busy wait, whose growing
        back-off lets a loop that writes back to back (the engine stepping a flood) starve the other (the worker
        waiting to claim the first pages). PostgreSQL locks rows, so there is nothing to take turns for."""
        if self.single_writer:
            async with self._turns, self.sessions() as session:
                yield session
        else:
            async with self.sessions() as session:
                yield session

    @property
    def codes_in_sms(self) -> bool:
        """A pager that receives pushes is a domestic one, whose templates take no link: its SMS carry a code."""
        return pushing(self.pager) is not None

    def url(self, path: str) -> str | None:
        return f"{self.public_url.rstrip('/')}{path}" if self.public_url else None

    def ack_link(self, token: tokens.AckToken) -> str | None:
        if not (self.public_url and self.secret):
            return None
        return self.url(f"/ack/{tokens.sign(self.secret, token)}")
