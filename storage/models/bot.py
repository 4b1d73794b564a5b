"""What the chat bot keeps: one-time linking invitations, the updates it has accepted, and who is handling them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from carevisit.storage.types import UTCDateTime


class ChatInvitation(SQLModel, table=True):
    """A one-time, expiring invitation to link a Telegram account to a volunteer or a coordinator.

    Only a hash of the token is stored: a leaked database gives nobody a working link.
    """

    __tablename__ = "chat_invitations"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    volunteer_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("volunteers.id", ondelete="CASCADE"), index=True)
    )
    coordinator_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("coordinators.id", ondelete="CASCADE"), index=True)
    )
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    used_by_telegram_user_id: int | None = Field(default=None, sa_type=BigInteger)


class TelegramUpdate(SQLModel, table=True):
    """A webhook update stored before Telegram gets its 200, so a crash cannot lose it; `update_id` drops repeats."""

    __tablename__ = "telegram_updates"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chat_id: int | None = Field(default=None, sa_type=BigInteger, index=True)  # whose conversation: handled in order
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # cleared once processed
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=500)


class TelegramChatClaim(SQLModel, table=True):
    """Which process is handling a chat's stored updates: one at a time, so a chat's updates run in order whichever
    process picks them up. A claim not renewed by `expires_at` (its process died) may be taken over."""

    __tablename__ = "telegram_chat_claims"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class BotFlowState(SQLModel, table=True):
    """Where a chat is in one of the bot's multi-message flows (aiogram FSM), when Redis is not configured."""

    __tablename__ = "bot_flow_states"

    key: str = Field(max_length=200, primary_key=True)  # aiogram's storage key: bot, chat, user
    state: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    updated_at: datetime = Field(sa_type=UTCDateTime)
