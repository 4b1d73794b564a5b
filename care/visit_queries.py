"""Named queries about visits that several parts share (the bot's lists, reminders, overdue alerts, the dashboard).

A visit is *overdue* when it is still planned and its window has ended before `today` (local date), or, for an
extra visit with a deadline, the deadline has passed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.month_close import oldest_open_month
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Visit


def is_overdue(*, today: date, now: datetime) -> ColumnElement[bool]:
    """The overdue condition as a filter on `Visit`."""
    return and_(
        col(Visit.status) == VisitStatus.PLANNED,
        or_(
            col(Visit.window_end) < today,
            and_(col(Visit.deadline_at).is_not(None), col(Visit.deadline_at) < now),
        ),
    )


def _in_area(area: Area) -> ColumnElement[bool]:
    return col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))


async def visits_for_volunteer(
    session: AsyncSession, *, volunteer_id: int, today: date, horizon_days: int = 7
) -> list[tuple[Visit, Elder]]:
    """Planned visits of a volunteer that are overdue or open now or within `horizon_days`, nearest first; on the
    1st, last month's still-open visits too (they can be confirmed until the day is over), never older ones."""
    statement = (
        select(Visit, Elder)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(
            col(Visit.volunteer_id) == volunteer_id,
            col(Visit.status) == VisitStatus.PLANNED,
            col(Visit.month) >= oldest_open_month(today),
            col(Visit.window_start) <= today + timedelta(days=horizon_days),
        )
        .order_by(col(Visit.window_end), col(Visit.id))
    )
    return [(visit, elder) for visit, elder in (await session.exec(statement)).all()]


async def overdue_visits(
    session: AsyncSession, *, area: Area, today: date, now: datetime, limit: int | None = None
) -> list[tuple[Visit, Elder]]:
    """Overdue visits of `area`'s subtree, longest overdue first; the first `limit` of them when given."""
    statement = (
        select(Visit, Elder)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(is_overdue(today=today, now=now), _in_area(area))
        .order_by(col(Visit.window_end), col(Visit.id))
        .limit(limit)
    )
    return [(visit, elder) for visit, elder in (await session.exec(statement)).all()]


async def count_overdue(session: AsyncSession, *, area: Area, today: date, now: datetime) -> int:
    statement = (
        select(func.count())
        .select_from(Visit)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(is_overdue(today=today, now=now), _in_area(area))
    )
    return int((await session.exec(statement)).one())


def _unassigned(area: Area, month: str) -> list[ColumnElement[bool]]:
    return [
        col(Visit.month) == month,
        col(Visit.status) == VisitStatus.PLANNED,
        col(Visit.volunteer_id).is_(None),
        _in_area(area),
    ]


async def unassigned_visits(
    session: AsyncSession, *, area: Area, month: str, limit: int | None = None
) -> list[tuple[Visit, Elder]]:
    """Planned visits of `month` nobody is assigned to, soonest due first; the first `limit` when given."""
    statement = (
        select(Visit, Elder)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(*_unassigned(area, month))
        .order_by(col(Visit.window_end), col(Visit.id))
        .limit(limit)
    )
    return [(visit, elder) for visit, elder in (await session.exec(statement)).all()]


async def count_unassigned(session: AsyncSession, *, area: Area, month: str) -> int:
    statement = (
        select(func.count())
        .select_from(Visit)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(*_unassigned(area, month))
    )
    return int((await session.exec(statement)).one())
