"""The scheduler's own table: who may fire jobs (a lease). APScheduler keeps its jobs in memory."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from carevisit.storage.types import UTCDateTime


class SchedulerLease(SQLModel, table=True):
    """One row per lock name; the holder fires jobs until `expires_at` unless it renews (SQLite's leader lock).

    PostgreSQL uses an advisory lock instead; the table exists there too but stays empty.
    """

    __tablename__ = "scheduler_leases"

    name: str = Field(max_length=64, primary_key=True)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)
