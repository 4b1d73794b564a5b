"""Confirming a visit: once, by the assigned volunteer, with the elder's state and a short checklist whose
concerns become problem reports; and unplanned visits a volunteer logs themselves.

Authorisation is decided here from the database, never from what a chat button claims. Functions add to the
caller's session and do not commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.month_close import oldest_open_month
from carevisit.storage.enums import ElderStatus, ProblemCategory, VisitKind, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import UNPLANNED_SLOT_BASE, Elder, Problem, Visit, VolunteerCommunity


class VisitNotYours(LookupError):
    """No such visit assigned to this volunteer (the same answer whether it exists or not)."""


class VisitClosed(ValueError):
    """The visit was cancelled, or its month is closed (`care.month_close`); it can no longer be confirmed."""


class ElderNotServed(LookupError):
    """The elder is not in any of the volunteer's communities (or does not exist)."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One question asked on every visit; a concern on it files a problem of `category`."""

    key: str
    category: ProblemCategory


# Local practice for visits to elders living alone: health and mobility, mood, whether family visit or call,
# home safety (water, electricity, gas, heating), unmet care needs.
DEFAULT_CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("health", ProblemCategory.HEALTH),
    ChecklistItem("mood", ProblemCategory.LONELINESS),
    ChecklistItem("family", ProblemCategory.CARER_OBLIGATION),
    ChecklistItem("home_safety", ProblemCategory.HOME_SAFETY),
    ChecklistItem("care_needs", ProblemCategory.REFERRAL),
)

OK, CONCERN = "ok", "concern"


@dataclass
class Confirmation:
    visit: Visit
    elder: Elder
    already_done: bool  # True: an earlier tap confirmed it; nothing was changed now
    problems: list[Problem] = field(default_factory=list)


def problems_from_checklist(
    checklist: tuple[ChecklistItem, ...], answers: dict[str, str], outcome: VisitOutcome
) -> list[ProblemCategory]:
    """Which problem categories a confirmation files: one per concern; a "problem" visit with no concern ticked
    still files one (OTHER), so it reaches the referral queue."""
    categories = [item.category for item in checklist if answers.get(item.key) == CONCERN]
    if outcome == VisitOutcome.PROBLEM and not categories:
        categories = [ProblemCategory.OTHER]
    return categories


# Built once: constructing a statement costs more CPU than running it on the bot's hottest path.
_ASSIGNED_VISIT = (
    select(Visit, Elder)
    .join(Elder, col(Elder.id) == col(Visit.elder_id))
    .where(col(Visit.id) == bindparam("visit_id"), col(Visit.volunteer_id) == bindparam("volunteer_id"))
)


async def assigned_visit(
    session: AsyncSession, *, visit_id: int, volunteer_id: int, fresh: bool = False
) -> tuple[Visit, Elder]:
    """The visit and its elder if the visit is (or was) this volunteer's; VisitNotYours otherwise. `fresh`: read
    the row again even if the session holds the visit already (after an UPDATE statement)."""
    statement = _ASSIGNED_VISIT.execution_options(populate_existing=True) if fresh else _ASSIGNED_VISIT
    row = (await session.exec(statement, params={"visit_id": visit_id, "volunteer_id": volunteer_id})).first()
    if row is None:
        raise VisitNotYours(visit_id)
    return row[0], row[1]


async def confirm_visit(
    session: AsyncSession,
    *,
    clock: Clock,
    zone: ZoneInfo,
    visit_id: int,
    volunteer_id: int,
    mode: VisitMode,
    outcome: VisitOutcome,
    answers: dict[str, str] | None = None,
    checklist: tuple[ChecklistItem, ...] = DEFAULT_CHECKLIST,
    note: str | None = None,
) -> Confirmation:
    """Mark a visit done, once. A second confirmation (a repeated update, a late tap) returns
    `already_done=True` and changes nothing. Raises VisitNotYours, VisitClosed (cancelled, missed, or of a closed
    month: a late confirmation on the 1st is taken and counts in the visit's own month). Files a problem per
    concern."""
    answers = {k: v for k, v in (answers or {}).items() if k in {i.key for i in checklist} and v in (OK, CONCERN)}
    now = clock.now()
    oldest_open = oldest_open_month(local_today(clock, zone))
    # Read first (not yet inside a write transaction), then the conditional update decides races: the write
    # transaction (which holds SQLite's single write lock) is only the update, the audit entry and the commit.
    visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=volunteer_id, fresh=True)
    if visit.status == VisitStatus.DONE:
        return Confirmation(visit=visit, elder=elder, already_done=True)
    if visit.status != VisitStatus.PLANNED or visit.month < oldest_open:
        raise VisitClosed(visit_id)
    done = {
        "status": VisitStatus.DONE,
        "done_at": now,
        "done_mode": mode,
        "done_by_volunteer_id": volunteer_id,
        "outcome": outcome,
        "checklist": answers or None,
        "note": (note or "").strip() or None,
        "updated_at": now,
    }
    won = await session.exec(
        update(Visit)
        .where(
            col(Visit.id) == visit_id,
            col(Visit.volunteer_id) == volunteer_id,
            col(Visit.status) == VisitStatus.PLANNED,
            col(Visit.month) >= oldest_open,
        )
        .values(**done)
        .execution_options(synchronize_session=False)  # `visit` is brought in step below, without a re-read
    )
    if not won.rowcount:  # an earlier tap, or someone else in between: read what it is now
        visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=volunteer_id, fresh=True)
        if visit.status == VisitStatus.DONE:
            return Confirmation(visit=visit, elder=elder, already_done=True)
        raise VisitClosed(visit_id)
    for key, value in done.items():
        set_committed_value(visit, key, value)  # what the update wrote; not a change to flush again
    problems = []
    for category in problems_from_checklist(checklist, answers, outcome):
        problem = Problem(
            elder_id=elder.id,  # type: ignore[arg-type]
            visit_id=visit_id,
            reporter_volunteer_id=volunteer_id,
            category=category,
            description=(note or "").strip(),
            created_at=now,
            updated_at=now,
        )
        session.add(problem)
        problems.append(problem)
    if problems:
        await session.flush()  # their ids, for the coordinators' notices
    audit.record(
        session,
        clock=clock,
        actor=f"volunteer:{volunteer_id}",
        action="visit.confirm",
        entity="visit",
        entity_id=visit_id,
        details={"mode": str(mode), "outcome": str(outcome), "problems": len(problems)},
    )
    return Confirmation(visit=visit, elder=elder, already_done=False, problems=problems)


async def add_visit_details(
    session: AsyncSession,
    *,
    clock: Clock,
    visit_id: int,
    volunteer_id: int,
    note: str | None = None,
    photo_ref: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Visit:
    """Add a note, photo or location to a visit this volunteer confirmed (notes are appended, not replaced)."""
    visit, _elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=volunteer_id)
    if visit.status != VisitStatus.DONE:
        raise VisitClosed(visit_id)
    if note and note.strip():
        visit.note = f"{visit.note}\n{note.strip()}" if visit.note else note.strip()
    if photo_ref:
        visit.photo_ref = photo_ref
    if latitude is not None and longitude is not None:
        visit.latitude, visit.longitude = latitude, longitude
    visit.updated_at = clock.now()
    session.add(visit)
    return visit


async def elders_served(session: AsyncSession, *, volunteer_id: int, search: str = "", limit: int = 10) -> list[Elder]:
    """Active elders in the volunteer's communities, optionally by part of the name."""
    statement = (
        select(Elder)
        .where(
            col(Elder.community_id).in_(
                select(VolunteerCommunity.area_id).where(VolunteerCommunity.volunteer_id == volunteer_id)
            ),
            col(Elder.status) == ElderStatus.ACTIVE,
        )
        .order_by(col(Elder.name), col(Elder.id))
        .limit(limit)
    )
    if search.strip():
        statement = statement.where(col(Elder.name).contains(search.strip()))
    return list((await session.exec(statement)).all())


async def served_elder(session: AsyncSession, *, volunteer_id: int, elder_id: int) -> Elder:
    elder = await session.get(Elder, elder_id)
    served = (
        await session.exec(
            select(VolunteerCommunity).where(
                VolunteerCommunity.volunteer_id == volunteer_id,
                VolunteerCommunity.area_id == (elder.community_id if elder else -1),
            )
        )
    ).first()
    if elder is None or served is None:
        raise ElderNotServed(elder_id)
    return elder


async def start_unplanned_visit(
    session: AsyncSession, *, clock: Clock, volunteer_id: int, elder_id: int, today: date, mode: VisitMode
) -> Visit:
    """A visit the volunteer made outside the plan, assigned to them and ready to confirm like any other.
    Raises ElderNotServed unless the elder is in one of their communities."""
    elder = await served_elder(session, volunteer_id=volunteer_id, elder_id=elder_id)
    now: datetime = clock.now()
    month = month_of(today)
    for _ in range(3):  # the next free slot; two volunteers racing for it retry
        slot = await _next_unplanned_slot(session, elder_id=elder.id, month=month)  # type: ignore[arg-type]
        visit = Visit(
            elder_id=elder.id,  # type: ignore[arg-type]
            month=month,
            slot=slot,
            kind=VisitKind.UNPLANNED,
            mode=mode,
            window_start=today,
            window_end=today,
            status=VisitStatus.PLANNED,
            volunteer_id=volunteer_id,
            assigned_at=now,
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(visit)
        except IntegrityError:
            continue
        return visit
    raise RuntimeError("could not find a free visit slot")


async def _next_unplanned_slot(session: AsyncSession, *, elder_id: int, month: str) -> int:
    """The next slot in the unplanned visits' own range: planning and extra visits may still need the others."""
    last = select(func.coalesce(func.max(Visit.slot), UNPLANNED_SLOT_BASE)).where(
        Visit.elder_id == elder_id, Visit.month == month, col(Visit.slot) > UNPLANNED_SLOT_BASE
    )
    return (await session.exec(last)).one() + 1
