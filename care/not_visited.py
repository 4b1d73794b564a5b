"""Not visited this month: the eligible elders of an area still without a completed visit in the month, most
urgent first (longest since their last contact), and the elders left out of the rate with their reasons.

Built for 1,000,000 elders: one query picks the page's rows (ORDER BY + LIMIT), one counts them all, and two more
fetch the month's visits and the usual volunteer of those rows only; nothing runs once per elder.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.visit_rate import eligible_elders_filter
from carevisit.storage.enums import ElderStatus, VisitKind, VisitMode, VisitStatus
from carevisit.storage.models import Area, Elder, Visit, Volunteer

LIMIT = 200


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    """The elder's next open visit of the month."""

    mode: VisitMode
    window_start: date
    window_end: date
    volunteer: str | None  # None: nobody is assigned


@dataclass(frozen=True, slots=True)
class NotVisitedElder:
    elder_id: int
    external_id: str
    name: str
    community: str
    last_contact: datetime | None  # the last completed visit of any month; None: never
    days_since: int | None
    interval_days: int  # the gap the month's plan allows between contacts
    volunteer: str | None  # of the open visit, else whoever made the last visit
    planned: PlannedVisit | None  # None: nothing planned this month

    @property
    def past_interval(self) -> bool:
        """Never contacted, or longer ago than the plan allows: shown red."""
        return self.days_since is None or self.days_since > self.interval_days


@dataclass(frozen=True, slots=True)
class NotVisitedList:
    rows: list[NotVisitedElder]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True, slots=True)
class NotVisitedReasons:
    """Elders of the area outside the rate's denominator, by reason (their status now)."""

    no_consent: int
    paused: int
    moved: int
    deceased: int
    withdrew: int

    @property
    def left(self) -> int:
        return self.moved + self.deceased + self.withdrew


def _last_day(month: str) -> date:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def _in_area(area: Area) -> ColumnElement[bool]:
    return col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))


def _not_visited(area: Area, month: str) -> list[ColumnElement[bool]]:
    visited = exists().where(
        col(Visit.elder_id) == col(Elder.id), col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE
    )
    return [eligible_elders_filter(), _in_area(area), ~visited]


async def count_not_visited(session: AsyncSession, *, area: Area, month: str) -> int:
    statement = select(func.count()).select_from(Elder).where(*_not_visited(area, month))
    return int((await session.exec(statement)).one())


async def not_visited(
    session: AsyncSession, *, area: Area, month: str, today: date, zone: ZoneInfo, limit: int = LIMIT
) -> NotVisitedList:
    """The first `limit` elders of `area`'s subtree not visited in `month`, never-contacted first, then by the
    oldest last contact; `total` counts them all. Days are counted to `today` (or the month's last day, for a past
    month)."""
    last_day = _last_day(month)
    # Contact as it stood at the month's end: a visit made later does not shorten a past month's wait.
    month_end = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=zone)
    last_done = (
        select(func.max(Visit.done_at))
        .where(
            col(Visit.elder_id) == col(Elder.id),
            col(Visit.status) == VisitStatus.DONE,
            col(Visit.done_at) < month_end,
        )
        .correlate(Elder)
        .scalar_subquery()
    )
    statement = (
        select(Elder, Area.name, last_done)
        .join(Area, col(Area.id) == col(Elder.community_id))
        .where(*_not_visited(area, month))
        .order_by(last_done.asc().nulls_first(), col(Elder.id))
        .limit(limit)
    )
    picked = (await session.exec(statement)).all()
    ids = [elder.id for elder, _, _ in picked if elder.id is not None]
    plans = await _month_plans(session, elder_ids=ids, month=month)
    usual = await _usual_volunteers(session, elder_ids=ids)
    month_days = last_day.day
    as_of = min(today, last_day)
    rows = []
    for elder, community, last in picked:
        elder_id = elder.id or 0
        planned, planned_count = plans.get(elder_id, (None, 0))
        rows.append(
            NotVisitedElder(
                elder_id=elder_id,
                external_id=elder.external_id,
                name=elder.name,
                community=community,
                last_contact=last,
                days_since=(as_of - last.astimezone(zone).date()).days if last else None,
                interval_days=math.ceil(month_days / max(planned_count, 1)),
                volunteer=planned.volunteer if planned and planned.volunteer else usual.get(elder_id),
                planned=planned,
            )
        )
    total = len(rows) if len(rows) < limit else await count_not_visited(session, area=area, month=month)
    return NotVisitedList(rows=rows, total=total)


async def _month_plans(
    session: AsyncSession, *, elder_ids: Sequence[int], month: str
) -> dict[int, tuple[PlannedVisit | None, int]]:
    """Per elder: the open visit of the month ending first, and how many visits the monthly plan gave them (the
    policy's frequency for their class and risk, as the planner applied it)."""
    if not elder_ids:
        return {}
    statement = (
        select(Visit, Volunteer.name)
        .outerjoin(Volunteer, col(Volunteer.id) == col(Visit.volunteer_id))
        .where(col(Visit.elder_id).in_(elder_ids), col(Visit.month) == month)
        .order_by(col(Visit.elder_id), col(Visit.window_end), col(Visit.id))
    )
    plans: dict[int, tuple[PlannedVisit | None, int]] = {}
    for visit, volunteer in (await session.exec(statement)).all():
        current, count = plans.get(visit.elder_id, (None, 0))
        if current is None and visit.status == VisitStatus.PLANNED:
            current = PlannedVisit(
                mode=visit.mode, window_start=visit.window_start, window_end=visit.window_end, volunteer=volunteer
            )
        plans[visit.elder_id] = (current, count + (visit.kind == VisitKind.PLANNED))
    return plans


async def _usual_volunteers(session: AsyncSession, *, elder_ids: Sequence[int]) -> dict[int, str]:
    """Who made each elder's last completed visit."""
    if not elder_ids:
        return {}
    ranked = (
        select(
            col(Visit.elder_id).label("elder_id"),
            col(Visit.done_by_volunteer_id).label("volunteer_id"),
            func.row_number().over(partition_by=col(Visit.elder_id), order_by=col(Visit.done_at).desc()).label("rank"),
        )
        .where(
            col(Visit.elder_id).in_(elder_ids),
            col(Visit.status) == VisitStatus.DONE,
            col(Visit.done_by_volunteer_id).is_not(None),
        )
        .subquery()
    )
    statement = (
        select(ranked.c.elder_id, Volunteer.name)
        .join(Volunteer, col(Volunteer.id) == ranked.c.volunteer_id)
        .where(ranked.c.rank == 1)
    )
    return {elder_id: name for elder_id, name in (await session.exec(statement)).all()}


async def not_visited_reasons(session: AsyncSession, *, area: Area, month: str) -> NotVisitedReasons:
    """The elders of `area`'s subtree not counted in `month`'s rate, by reason: no consent (still active), paused,
    moved, deceased, withdrew; elders enrolled after the month are not counted. Statuses are today's: the roster
    keeps no history of them, so a past month shows the reasons as they stand now."""
    statement = (
        select(Elder.status, Elder.consent, func.count())
        .where(_in_area(area), ~eligible_elders_filter(), col(Elder.enrolled_on) <= _last_day(month))
        .group_by(col(Elder.status), col(Elder.consent))
    )
    counts = dict.fromkeys(("no_consent", "paused", "moved", "deceased", "withdrew"), 0)
    for status, consent, n in (await session.exec(statement)).all():
        reason = "no_consent" if status == ElderStatus.ACTIVE and not consent else str(status)
        counts[reason] += int(n)
    return NotVisitedReasons(**counts)
