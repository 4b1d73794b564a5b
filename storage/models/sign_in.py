"""What signing in to the volunteer app without a password keeps: one-time links, and the devices they bound.

Only hashes of tokens are stored: a leaked database gives nobody a working link or a signed-in phone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from carevisit.storage.types import UTCDateTime


class VolunteerSignInLink(SQLModel, table=True):
    """A one-time, expiring link (`PUBLIC_URL/v/in/<token>`) that binds the phone opening it to a volunteer."""

    __tablename__ = "volunteer_sign_in_links"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    volunteer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("volunteers.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class VolunteerDevice(SQLModel, table=True):
    """A phone's browser signed in as a volunteer, by the long-lived cookie whose hash this is; a coordinator (or
    the volunteer signing out) revokes it."""

    __tablename__ = "volunteer_devices"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    volunteer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("volunteers.id", ondelete="CASCADE"), index=True, nullable=False)
    )
    label: str = Field(default="", max_length=80)  # the browser's user agent, shortened: which phone it was
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)
