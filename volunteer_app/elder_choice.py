"""The elders a volunteer picks from (🆘, 报告问题): their own first, then the rest of their communities, none cut.

"Their own" are the elders with a visit assigned to them this month: the ones they are most likely standing beside.
Nothing is left out (a community has a few hundred elders at most: still a small page), so an elder is never
missing from an emergency list because a limit fell before their name; a search by part of the name narrows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import month_of
from carevisit.storage.enums import ElderStatus
from carevisit.storage.models import Elder, Visit, VolunteerCommunity

SEARCH_CHARS = 50  # a name typed to narrow the list: longer is no name
# Beyond this many to choose from, the page offers the search (a few names are quicker to read than to type).
SEARCH_FROM = 12


@dataclass(frozen=True, slots=True)
class ElderChoice:
    mine: list[Elder]  # with a visit assigned to this volunteer this month, by name
    others: list[Elder]  # the rest of their communities' active elders, by name

    @property
    def long(self) -> bool:
        return len(self.mine) + len(self.others) > SEARCH_FROM


async def elders_to_choose(session: AsyncSession, *, volunteer_id: int, today: date, search: str = "") -> ElderChoice:
    communities = select(VolunteerCommunity.area_id).where(VolunteerCommunity.volunteer_id == volunteer_id)
    statement = (
        select(Elder)
        .where(col(Elder.community_id).in_(communities), col(Elder.status) == ElderStatus.ACTIVE)
        .order_by(col(Elder.name), col(Elder.id))
    )
    if search.strip():
        statement = statement.where(col(Elder.name).contains(search.strip()))
    elders = (await session.exec(statement)).all()
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
