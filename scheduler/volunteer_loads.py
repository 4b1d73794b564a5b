"""Loading what assignment needs from the database: volunteers, their month's load, last month's faces."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.scheduler.assignment import Assigner, VolunteerLoad
from carevisit.scheduler.months import previous_month
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Visit, Volunteer, VolunteerCommunity


async def load_assigner(session: AsyncSession, *, month: str, communities: Collection[int] | None = None) -> Assigner:
    """Every active volunteer (serving one of `communities`, if given) with the communities they serve and the
    visits already theirs in `month`."""
    volunteers: dict[int, VolunteerLoad] = {}
    statement = (
        select(Volunteer.id, Volunteer.capacity, VolunteerCommunity.area_id)
        .join(VolunteerCommunity, col(VolunteerCommunity.volunteer_id) == col(Volunteer.id))
        .where(col(Volunteer.active).is_(True))
    )
    if communities is not None:
        serving = select(VolunteerCommunity.volunteer_id).where(col(VolunteerCommunity.area_id).in_(list(communities)))
        statement = statement.where(col(Volunteer.id).in_(serving))
    rows = await session.exec(statement)
    for volunteer_id, capacity, area_id in rows.all():
        assert volunteer_id is not None
        volunteer = volunteers.setdefault(volunteer_id, VolunteerLoad(id=volunteer_id, capacity=capacity))
        volunteer.communities.add(area_id)
    loads = await session.exec(
        select(Visit.volunteer_id, func.count())
        .where(
            col(Visit.month) == month,
            col(Visit.status) != VisitStatus.CANCELLED,
            col(Visit.volunteer_id).is_not(None),
        )
        .group_by(col(Visit.volunteer_id))
    )
    for volunteer_id, count in loads.all():
        if volunteer_id in volunteers:
            volunteers[volunteer_id].load = int(count)
    return Assigner(volunteers.values())


async def last_month_volunteers(
    session: AsyncSession, *, month: str, first_elder_id: int, last_elder_id: int
) -> dict[int, int]:
    """elder id → the volunteer who did (or held) most of the elder's visits the month before `month`."""
    return await _most_frequent_volunteer(
        session,
        month=previous_month(month),
        scope=(col(Visit.elder_id) >= first_elder_id) & (col(Visit.elder_id) <= last_elder_id),
    )


async def volunteers_of_elders(session: AsyncSession, *, month: str, elder_ids: Collection[int]) -> dict[int, int]:
    """elder id → the volunteer who holds most of the elder's visits in `month` (for keeping a face)."""
    return await _most_frequent_volunteer(session, month=month, scope=col(Visit.elder_id).in_(list(elder_ids)))


async def _most_frequent_volunteer(session: AsyncSession, *, month: str, scope: Any) -> dict[int, int]:
    who = func.coalesce(col(Visit.done_by_volunteer_id), col(Visit.volunteer_id))
    rows = await session.exec(
        select(Visit.elder_id, who).where(
            col(Visit.month) == month,
            scope,
            col(Visit.status) != VisitStatus.CANCELLED,
            who.is_not(None),
        )
    )
    counts: dict[int, Counter[int]] = {}
    for elder_id, volunteer_id in rows.all():
        counts.setdefault(elder_id, Counter())[volunteer_id] += 1
    return {elder_id: counter.most_common(1)[0][0] for elder_id, counter in counts.items()}
