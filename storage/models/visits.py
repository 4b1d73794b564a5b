"""Visits and the problems (referrals) they turn up."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from carevisit.storage.enums import ProblemCategory, ProblemStatus, VisitKind, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.types import UTCDateTime, enum_type

# Each kind of visit numbers its slots in a range of its own, so one kind never takes a slot another needs:
# planned visits 1..31, extra visits 101 and up, unplanned visits 201 and up.
EXTRA_SLOT_BASE = 100
UNPLANNED_SLOT_BASE = 200


class Visit(SQLModel, table=True):
    """One visit an elder is owed (or was given) in a month.

    (elder, month, slot) is unique, so generating a month's plan twice can never duplicate a visit.
    """

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("elder_id", "month", "slot"),
        # The rate's visited elders and the unassigned count, read from the index alone (0011).
        Index("ix_visits_month_status_volunteer_elder", "month", "status", "volunteer_id", "elder_id"),
        Index("ix_visits_elder_status_done", "elder_id", "status", "done_at"),  # an elder's last contact
        Index("ix_visits_status_window_end", "status", "window_end"),  # overdue visits
        Index("ix_visits_volunteer_status", "volunteer_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elders.id", index=True)
    month: str = Field(max_length=7)  # "YYYY-MM", local time
    slot: int
    kind: VisitKind = Field(default=VisitKind.PLANNED, sa_type=enum_type(VisitKind))
    mode: VisitMode = Field(sa_type=enum_type(VisitMode))
    window_start: date
    window_end: date
    deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # extra visits: "within 24 hours"
    reason: str | None = Field(default=None, max_length=300)
    policy_version: str | None = Field(default=None, max_length=64)
    status: VisitStatus = Field(default=VisitStatus.PLANNED, sa_type=enum_type(VisitStatus))
    volunteer_id: int | None = Field(default=None, foreign_key="volunteers.id")
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_mode: VisitMode | None = Field(default=None, sa_type=enum_type(VisitMode))
    done_by_volunteer_id: int | None = Field(default=None, foreign_key="volunteers.id")
    outcome: VisitOutcome | None = Field(default=None, sa_type=enum_type(VisitOutcome))
    checklist: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    note: str | None = Field(default=None, sa_type=Text)
    latitude: float | None = None
    longitude: float | None = None
    photo_ref: str | None = Field(default=None, max_length=200)
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Problem(SQLModel, table=True):
    """A problem found on a visit; non-urgent ones wait in the coordinators' referral queue until closed."""

    __tablename__ = "problems"
    __table_args__ = (Index("ix_problems_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elders.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visits.id")
    reporter_volunteer_id: int | None = Field(default=None, foreign_key="volunteers.id")
    category: ProblemCategory = Field(sa_type=enum_type(ProblemCategory))
    description: str = Field(default="", sa_type=Text)
    urgent: bool = False
    status: ProblemStatus = Field(default=ProblemStatus.OPEN, sa_type=enum_type(ProblemStatus))
    attachments: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)  # photo/voice file refs
    latitude: float | None = None
    longitude: float | None = None
    referred_to: str | None = Field(default=None, max_length=200)
    resolution: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
