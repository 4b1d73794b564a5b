"""The scheduler's own tables: who may fire jobs (a lease), and APScheduler's persistent job store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, LargeBinary, Unicode
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class SchedulerLease(SQLModel, table=True):
    """One row per lock name; the holder fires jobs until `expires_at` unless it renews (SQLite's leader lock).

    PostgreSQL uses an advisory lock instead; the table exists there too but stays empty.
    """

    __tablename__ = "scheduler_leases"

    name: str = Field(max_length=64, primary_key=True)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class SchedulerJob(SQLModel, table=True):
    """APScheduler 3's SQLAlchemyJobStore table, declared here so migrations create it and it is never a surprise.

    The columns mirror apscheduler.jobstores.sqlalchemy exactly (it only creates the table if it is missing).
    """

    __tablename__ = "scheduler_jobs"

    id: str = Field(sa_column=Column(Unicode(191), primary_key=True))
    next_run_time: float | None = Field(default=None, sa_column=Column(Float(25), index=True))
    job_state: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
