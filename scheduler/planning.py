"""Monthly planning: which visits each elder needs in a month, generated idempotently and assigned at once.

`needed_visits` is the pure decision. `generate_month` loads elders in batches, decides, assigns and inserts;
it commits per batch, and (elder, month, slot) is unique, so a second run, or a run after a crash half-way,
fills exactly the gaps: no duplicate, no hole.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, exists, func, type_coerce
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, local_today, month_of
from carevisit.scheduler.assignment import Assigner
from carevisit.scheduler.months import month_bounds, previous_month, split_into_windows
from carevisit.scheduler.visit_policy import VisitPolicy
from carevisit.scheduler.volunteer_loads import last_month_volunteers, load_assigner
from carevisit.storage.enums import ElderStatus, RiskLevel, VisitKind, VisitMode, VisitStatus
from carevisit.storage.models import Elder, Visit

log = logging.getLogger(__name__)

_PLANNABLE = (ElderStatus.ACTIVE, ElderStatus.PAUSED)
_LEFT = (ElderStatus.MOVED, ElderStatus.DECEASED, ElderStatus.WITHDREW)


class ElderForPlan(NamedTuple):  # a NamedTuple: a province's million of them are built fast
    id: int
    community_id: int
    risk: RiskLevel
    classes: int
    status: ElderStatus
    enrolled_on: date
    paused_until: date | None  # the last day of a pause (in hospital); planned again from the day after


@dataclass(frozen=True, slots=True)
class NeededVisit:
    slot: int
    mode: VisitMode
    window_start: date
    window_end: date


def planning_start(elder: ElderForPlan, *, month: str, today: date) -> date | None:
    """The first day of `month` this elder can be planned from, or None if not at all.

    Not before enrolment, not during a pause, not in the past of the current month (a plan made on the 12th covers
    the 12th onwards). Consent and leaving (moved, deceased, withdrew) are filtered before this.
    """
    first, last = month_bounds(month)
    start = max(first, elder.enrolled_on, today)
    if elder.status == ElderStatus.PAUSED and elder.paused_until is None:
        return None  # paused with no end date: skipped until someone resumes them
    if elder.paused_until is not None:
        start = max(start, elder.paused_until + timedelta(days=1))
    return start if start <= last else None


def needed_visits(policy: VisitPolicy, elder: ElderForPlan, *, month: str, today: date) -> list[NeededVisit]:
    """The visits an elder needs in `month`: the policy's list for a whole month, scaled to the days left."""
    start = planning_start(elder, month=month, today=today)
    if start is None:
        return []
    modes = policy.visits_for(risk=elder.risk, classes=elder.classes)
    first, last = month_bounds(month)
    share = ((last - start).days + 1) / ((last - first).days + 1)
    count = max(1, math.ceil(len(modes) * share - 1e-9))
    windows = split_into_windows(start, last, count)
    return [
        NeededVisit(slot=index, mode=mode, window_start=window[0], window_end=window[1])
        for index, (mode, window) in enumerate(zip(modes[: len(windows)], windows, strict=True), start=1)
    ]


class MonthOver(ValueError):
    """The month asked for has already ended."""


@dataclass
class PlanSummary:
    month: str
    policy_version: str
    dry_run: bool
    elders_planned: int = 0  # elders given at least one new visit by this run
    visits_created: int = 0
    by_mode: Counter[str] = field(default_factory=Counter)
    unassigned_created: int = 0
    already_planned: int = 0  # elders whose plan for the month was already complete
    paused: int = 0  # elders with nothing to plan this month: paused for the rest of it, or enrolled after it
    not_consenting: int = 0  # reported, never visited
    left: int = 0  # moved, deceased, withdrew
    unassigned_total: int = 0  # every planned visit of the month still without a volunteer


async def generate_month(
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock,
    zone: ZoneInfo,
    policy: VisitPolicy,
    month: str,
    dry_run: bool = False,
    elder_ids: Collection[int] | None = None,
    batch_size: int = 50_000,
) -> PlanSummary:
    """Plan `month` for every eligible elder (or only `elder_ids`) and assign volunteers.

    Idempotent. Commits once per batch of elders (nothing when `dry_run`). Elders with last month's volunteer
    are planned first, so a familiar face is not taken by balancing. Raises BadMonth for a malformed month and
    MonthOver for a month that has ended (nothing can be visited in the past).
    """
    today = local_today(clock, zone)
    if month_bounds(month)[1] < today:
        raise MonthOver(f"{month} has ended; plan this month or a later one")
    now = clock.now()
    summary = PlanSummary(month=month, policy_version=policy.version, dry_run=dry_run)
    async with sessions() as session:
        assigner = await load_assigner(session, month=month)
        await _count_skipped(session, summary, elder_ids)
    # While one batch is written (the driver works outside the GIL), the next is read and decided.
    writing: asyncio.Task[None] | None = None
    try:
        for familiar in (True, False):
            last_id = 0
            while True:
                async with sessions() as session:
                    elders = await _elders_batch(session, month, last_id, batch_size, elder_ids, familiar)
                    if not elders:
                        break
                    last_id = elders[-1].id
                    rows = await _plan_batch(session, elders, assigner, policy, month, today, now, summary)
                if writing is not None:
                    await writing
                    writing = None
                if rows and not dry_run:
                    writing = asyncio.create_task(_write(sessions, rows))
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None:  # an error while deciding: let the batch in flight finish, then re-raise
            await asyncio.gather(writing, return_exceptions=True)
    async with sessions() as session:
        summary.unassigned_total = await _count_unassigned(session, month)
    summary.unassigned_total += summary.unassigned_created if dry_run else 0
    log.info(
        "planned %s: %d elders, %d visits, %d unassigned (dry run: %s)",
        month,
        summary.elders_planned,
        summary.visits_created,
        summary.unassigned_total,
        dry_run,
    )
    return summary


async def _write(sessions: async_sessionmaker[AsyncSession], rows: list[tuple[Any, ...]]) -> None:
    async with sessions() as session:
        await insert_visits(await session.connection(), rows)
        await session.commit()


async def plan_current_month(
    sessions: async_sessionmaker[AsyncSession], *, clock: Clock, zone: ZoneInfo, policy: VisitPolicy
) -> PlanSummary:
    """What the scheduler runs: the local month it is now (a plan at 00:01 local on the 1st is for the new month)."""
    return await generate_month(
        sessions, clock=clock, zone=zone, policy=policy, month=month_of(local_today(clock, zone))
    )


async def plan_newcomers(
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock,
    zone: ZoneInfo,
    policy: VisitPolicy,
    limit: int = 5_000,
) -> PlanSummary | None:
    """Plan the rest of this month at once for active, consenting elders who have no plan in it yet: enrolled
    since the last run, or resumed after a pause (their visits since the pause all cancelled). None if there is
    nobody; otherwise as `generate_month`, whose slots after the cancelled ones make a rerun find the plan again."""
    today = local_today(clock, zone)
    month = month_of(today)
    async with sessions() as session:
        ids = (
            await session.exec(
                select(Elder.id)
                .where(
                    col(Elder.status) == ElderStatus.ACTIVE,
                    col(Elder.consent).is_(True),
                    col(Elder.enrolled_on) <= today,
                    ~exists(_live_plan(month)),
                )
                .order_by(col(Elder.id))
                .limit(limit)
            )
        ).all()
    if not ids:
        return None
    return await generate_month(
        sessions, clock=clock, zone=zone, policy=policy, month=month, elder_ids=[i for i in ids if i is not None]
    )


def _live_plan(month: str) -> Select[Any]:
    """An elder's planned visit of `month` that no pause cancelled: not cancelled, and numbered after every
    cancelled one (a plan made after a pause takes the slots after them). Correlated with `Elder`."""
    cancelled = aliased(Visit)
    last_cancelled = (
        select(func.coalesce(func.max(cancelled.slot), 0))
        .where(
            cancelled.elder_id == col(Elder.id),
            cancelled.month == month,
            cancelled.kind == VisitKind.PLANNED,
            cancelled.status == VisitStatus.CANCELLED,
        )
        .scalar_subquery()
    )
    return select(Visit.elder_id).where(
        col(Visit.elder_id) == col(Elder.id),
        col(Visit.month) == month,
        col(Visit.kind) == VisitKind.PLANNED,
        col(Visit.status) != VisitStatus.CANCELLED,
        col(Visit.slot) > last_cancelled,
    )


async def _plan_batch(
    session: AsyncSession,
    elders: list[ElderForPlan],
    assigner: Assigner,
    policy: VisitPolicy,
    month: str,
    today: date,
    now: datetime,
    summary: PlanSummary,
) -> list[tuple[Any, ...]]:
    first_id, last_id = elders[0].id, elders[-1].id
    connection = await session.connection()  # plain rows, without the ORM's per-row work
    existing = await connection.execute(
        select(Visit.elder_id, Visit.slot, Visit.volunteer_id, Visit.status).where(
            col(Visit.month) == month,
            col(Visit.kind) == VisitKind.PLANNED,
            col(Visit.elder_id) >= first_id,
            col(Visit.elder_id) <= last_id,
        )
    )
    have: dict[int, set[int]] = {}
    current: dict[int, int] = {}
    # Visits cancelled by a pause stay on record; a plan made after the elder resumes numbers its slots after
    # them, so the same rerun finds the same slots again.
    offset: dict[int, int] = {}
    for elder_id, slot, volunteer_id, status in existing.all():
        if status == VisitStatus.CANCELLED:
            offset[elder_id] = max(offset.get(elder_id, 0), slot)
            continue
        have.setdefault(elder_id, set()).add(slot)
        if volunteer_id is not None:
            current[elder_id] = volunteer_id
    familiar = await last_month_volunteers(session, month=month, first_elder_id=first_id, last_elder_id=last_id)
    rows: list[tuple[Any, ...]] = []
    # Elders of one risk, class set and start day need the same visits: decide once (a million elders, a few
    # hundred distinct answers).
    decided: dict[tuple[RiskLevel, int, date], list[NeededVisit]] = {}
    for elder in elders:
        start = planning_start(elder, month=month, today=today)
        if start is None:
            summary.paused += 1
            continue
        key = (elder.risk, elder.classes, start)
        needed = decided.get(key)
        if needed is None:
            needed = decided[key] = needed_visits(policy, elder, month=month, today=today)
        shift = offset.get(elder.id, 0)
        slots = have.get(elder.id, ())
        missing = [visit for visit in needed if visit.slot + shift not in slots] if slots else needed
        if not missing:
            summary.already_planned += 1
            continue
        summary.elders_planned += 1
        for visit in missing:
            volunteer_id = assigner.pick(
                community_id=elder.community_id, preferred=(current.get(elder.id), familiar.get(elder.id))
            )
            if volunteer_id is not None:
                current.setdefault(elder.id, volunteer_id)
            else:
                summary.unassigned_created += 1
            summary.by_mode[visit.mode] += 1
            rows.append(
                (
                    elder.id,
                    month,
                    visit.slot + shift,
                    VisitKind.PLANNED,
                    visit.mode,
                    visit.window_start,
                    visit.window_end,
                    policy.version,
                    VisitStatus.PLANNED,
                    volunteer_id,
                    now if volunteer_id is not None else None,
                    now,
                    now,
                )
            )
    summary.visits_created += len(rows)
    return rows


VISIT_COLUMNS = (
    "elder_id",
    "month",
    "slot",
    "kind",
    "mode",
    "window_start",
    "window_end",
    "policy_version",
    "status",
    "volunteer_id",
    "assigned_at",
    "created_at",
    "updated_at",
)


async def insert_visits(connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    """Insert visit rows (in VISIT_COLUMNS order), skipping any (elder, month, slot) that exists already.

    On SQLite the values are converted by the columns' own SQLAlchemy processors, once per distinct value, and
    sent straight to the driver: the generic path spends most of a large plan converting the same few dates.
    """
    table = Visit.__table__  # type: ignore[attr-defined]
    if connection.dialect.name == "sqlite":
        columns: list[Any] = list(zip(*rows, strict=True))
        for index, name in enumerate(VISIT_COLUMNS):
            processor = table.c[name].type.bind_processor(connection.dialect)
            if processor is None:
                continue
            converted = {value: None if value is None else processor(value) for value in set(columns[index])}
            columns[index] = [converted[value] for value in columns[index]]
        prepared = list(zip(*columns, strict=True))
        sql = (
            f"INSERT INTO {table.name} ({', '.join(VISIT_COLUMNS)}) VALUES ({', '.join('?' for _ in VISIT_COLUMNS)})"
            " ON CONFLICT DO NOTHING"
        )
        await connection.exec_driver_sql(sql, prepared)
    else:
        statement = postgresql.insert(table).on_conflict_do_nothing()
        await connection.execute(statement, [dict(zip(VISIT_COLUMNS, row, strict=True)) for row in rows])


async def _elders_batch(
    session: AsyncSession,
    month: str,
    after_id: int,
    size: int,
    elder_ids: Collection[int] | None,
    familiar: bool,
) -> list[ElderForPlan]:
    had_volunteer = exists().where(
        col(Visit.elder_id) == col(Elder.id),
        col(Visit.month) == previous_month(month),
        col(Visit.volunteer_id).is_not(None),
    )
    statement = (
        select(
            Elder.id,
            Elder.community_id,
            type_coerce(Elder.risk, String),
            Elder.classes,
            type_coerce(Elder.status, String),
            Elder.enrolled_on,
            Elder.paused_until,
        )
        .where(
            col(Elder.id) > after_id,
            col(Elder.consent).is_(True),
            col(Elder.status).in_(_PLANNABLE),
            had_volunteer if familiar else ~had_volunteer,
        )
        .order_by(col(Elder.id))
        .limit(size)
    )
    if elder_ids is not None:
        statement = statement.where(col(Elder.id).in_(list(elder_ids)))
    connection = await session.connection()  # plain rows, without the ORM's per-row work
    rows = (await connection.execute(statement)).all()
    return [ElderForPlan(i, c, _RISKS[r], k, _STATUSES[s], e, p) for i, c, r, k, s, e, p in rows]


# Risk and status are read as their stored codes and mapped here: cheaper than the column type's conversion.
_RISKS = {str(member.value): member for member in RiskLevel}
_STATUSES = {str(member.value): member for member in ElderStatus}


async def _count_skipped(session: AsyncSession, summary: PlanSummary, elder_ids: Collection[int] | None) -> None:
    scope = col(Elder.id).in_(list(elder_ids)) if elder_ids is not None else col(Elder.id).is_not(None)
    summary.not_consenting = (
        await session.exec(
            select(func.count())
            .select_from(Elder)
            .where(scope, col(Elder.consent).is_(False), col(Elder.status).in_(_PLANNABLE))
        )
    ).one()
    summary.left = (
        await session.exec(select(func.count()).select_from(Elder).where(scope, col(Elder.status).in_(_LEFT)))
    ).one()


async def _count_unassigned(session: AsyncSession, month: str) -> int:
    return (
        await session.exec(
            select(func.count())
            .select_from(Visit)
            .where(
                col(Visit.month) == month,
                col(Visit.status) == VisitStatus.PLANNED,
                col(Visit.volunteer_id).is_(None),
            )
        )
    ).one()
