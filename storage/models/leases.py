"""Named leases: which process holds a one-at-a-time duty (SQLite's leader lock; PostgreSQL uses advisory locks)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from carevisit.storage.types import UTCDateTime


class LeaderLease(SQLModel, table=True):
    """One row per lock name; the holder keeps the duty until `expires_at` unless it renews.

    PostgreSQL uses an advisory lock instead; the table exists there too but stays empty.
    """

    __tablename__ = "leader_leases"

    name: str = Field(max_length=64, primary_key=True)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)
