"""Who was not visited in a month, and why: the eligible elders still without a completed visit, and the elders
the rate leaves out — no consent, paused (in hospital), left (moved, deceased, withdrew) — each counted apart.

The counts come from `reports.register`, the one grouped query the report's other figures share.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.reports.register import RegisterRow, register_counts
from carevisit.storage.enums import ElderStatus
from carevisit.storage.models import Area

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
    return reasons(await register_counts(session, month=month, area=area))


def reasons(rows: list[RegisterRow]) -> NotVisited:
    """Who was not visited and why, from the register's counts (see `reports.register`)."""
    counts: dict[str, int] = {}
    unvisited = no_consent = 0
    for row in rows:
        if row.eligible:
            unvisited += row.elders - row.visited
        elif row.status == ElderStatus.ACTIVE:
            no_consent += row.elders
        else:
            counts[row.status] = counts.get(row.status, 0) + row.elders
    return NotVisited(
        unvisited=unvisited,
        no_consent=no_consent,
        paused=counts.get(ElderStatus.PAUSED, 0),
        moved=counts.get(ElderStatus.MOVED, 0),
        deceased=counts.get(ElderStatus.DECEASED, 0),
        withdrew=counts.get(ElderStatus.WITHDREW, 0),
    )
