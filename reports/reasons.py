"""Who was not visited in a month, and why: the eligible elders still without a completed visit, and the elders
the rate leaves out — no consent, paused (in hospital), left (moved, deceased, withdrew) — each counted apart.

One grouped query over the register (by status and consent), so it stays one scan for a million elders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.storage.enums import ElderStatus, VisitStatus
from carevisit.storage.models import Area, Elder, Visit

LEFT = (ElderStatus.MOVED, ElderStatus.DECEASED, ElderStatus.WITHDREW)


@dataclass(frozen=True, slots=True)
class NotVisited:
    unvisited: int  # eligible (active, consenting) and still without a completed visit this month
    no_consent: int  # active, but said no to visits
    paused: int  # in hospital and the like: skipped while paused
    moved: int
    deceased: int
    withdrew: int

    @property
    def left(self) -> int:
        return self.moved + self.deceased + self.withdrew


async def not_visited(session: AsyncSession, *, area: Area, month: str) -> NotVisited:
    visited = select(Visit.elder_id).where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE)
    rows = await session.exec(
        select(
            Elder.status,
            Elder.consent,
            func.count(),
            func.sum(case((col(Elder.id).in_(visited), 1), else_=0)),
        )
        .where(col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
        .group_by(col(Elder.status), col(Elder.consent))
    )
    counts: dict[str, int] = {}
    unvisited = no_consent = 0
    for status, consent, elders, done in rows.all():
        if status == ElderStatus.ACTIVE and consent:
            unvisited += int(elders) - int(done or 0)
        elif status == ElderStatus.ACTIVE:
            no_consent += int(elders)
        else:
            counts[status] = counts.get(status, 0) + int(elders)
    return NotVisited(
        unvisited=unvisited,
        no_consent=no_consent,
        paused=counts.get(ElderStatus.PAUSED, 0),
        moved=counts.get(ElderStatus.MOVED, 0),
        deceased=counts.get(ElderStatus.DECEASED, 0),
        withdrew=counts.get(ElderStatus.WITHDREW, 0),
    )
