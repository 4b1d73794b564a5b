"""Who was not visited in a month, and why: the eligible elders still without a completed visit, and the elders
the rate leaves out — no consent, paused (in hospital), left (moved, deceased, withdrew) — each counted apart.

The unvisited come from `reports.register`, the counts the report's other figures share; the reasons are
`care.not_visited.not_visited_reasons`, the one definition the not-visited page shows too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.not_visited import NotVisitedReasons, not_visited_reasons
from carevisit.reports.register import RegisterRow
from carevisit.storage.models import Area


@dataclass(frozen=True, slots=True)
class NotVisited:
    unvisited: int  # eligible (active, consenting) and still without a completed visit this month
    left_out: NotVisitedReasons


async def not_visited(session: AsyncSession, *, area: Area, month: str, register: list[RegisterRow]) -> NotVisited:
    unvisited = sum(row.elders - row.visited for row in register if row.eligible)
    return NotVisited(unvisited=unvisited, left_out=await not_visited_reasons(session, area=area, month=month))
