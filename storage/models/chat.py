"""Chat messages (Telegram, WeCom) waiting to be sent by each channel's rate-limited sender."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text
from sqlmodel import Field, SQLModel

from carevisit.storage.enums import DeliveryStatus
from carevisit.storage.types import UTCDateTime, enum_type


class ChatOutboxMessage(SQLModel, table=True):
    """One chat message to send, written in the same transaction as whatever caused it.

    `idempotency_key` (e.g. "digest:2026-03-10:volunteer:7") is unique, so a job run twice queues it once.
    """

    __tablename__ = "chat_outbox"
    __table_args__ = (Index("ix_chat_outbox_status_due", "channel", "status", "not_before"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    channel: str = Field(default="telegram", max_length=16)  # care.ports.CHANNELS
    recipient: str = Field(max_length=64)  # the channel's id: a Telegram chat id as text, a WeCom userid
    text: str = Field(sa_type=Text)
    buttons: list[list[dict[str, Any]]] | None = Field(default=None, sa_type=JSON)
    link: str | None = Field(default=None, max_length=500)
    status: DeliveryStatus = Field(default=DeliveryStatus.PENDING, sa_type=enum_type(DeliveryStatus))
    attempts: int = 0
    not_before: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sending_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, max_length=500)
