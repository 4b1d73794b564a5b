"""The elders a volunteer picks from (🆘, 报告问题): their own first, then the rest of their communities, none cut.

"Their own" are the elders with a visit assigned to them this month: the ones they are most likely standing beside.
Nothing is left out (a community has a few hundred elders at most: still a small page), so an elder is never
missing from an emergency list because a limit fell before their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import month_of
from carevisit.storage.enums import ElderStatus
from carevisit.storage.models import Elder, Visit, VolunteerCommunity


@dataclass(frozen=True, slots=True)
class ElderChoice:
    mine: list[Elder]  # with a visit assigned to this volunteer this month, by name
    others: list[Elder]  # the rest of their communities' active elders, by name


async def elders_to_choose(session: AsyncSession, *, volunteer_id: int, today: date) -> ElderChoice:
    communities = select(VolunteerCommunity.area_id).where(VolunteerCommunity.volunteer_id == volunteer_id)
    elders = (
        await session.exec(
            select(Elder)
            .where(col(Elder.community_id).in_(communities), col(Elder.status) == ElderStatus.ACTIVE)
            .order_by(col(Elder.name), col(Elder.id))
        )
    ).all()
    assigned = set(
        (
            await session.exec(
                select(Visit.elder_id).where(Visit.volunteer_id == volunteer_id, Visit.month == month_of(today))
            )
        ).all()
    )
    return ElderChoice(
        mine=[elder for elder in elders if elder.id in assigned],
        others=[elder for elder in elders if elder.id not in assigned],
    )
