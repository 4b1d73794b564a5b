"""What WeCom's callbacks leave behind: one row per callback taken in, so WeCom's retries and replays are dropped."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from carevisit.storage.types import UTCDateTime


class WeComEvent(SQLModel, table=True):
    """A callback (a card tap, a text message) already handled.

    `dedupe_key` (`carevisit.wecom.events.dedupe_key`: a MsgId, or a hash of the event's fields) is unique: WeCom
    retries a callback it got no answer to within 5 s, and a replayed one decrypts fine, so the schema — not the
    process that happens to receive it — decides that it is handled once, even by two processes at the same time.
    """

    __tablename__ = "wecom_events"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=80, unique=True)
    kind: str = Field(max_length=32)  # template_card_event, text, or the Unknown event's type
    outcome: str = Field(max_length=32)  # what it did: acknowledged, not_allowed, linked, ignored…
    received_at: datetime = Field(sa_type=UTCDateTime)
