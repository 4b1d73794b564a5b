"""Who takes each visit (pure): a volunteer serving the elder's community, within capacity, balanced, familiar.

`Assigner` keeps every volunteer's load for one month in memory. For each visit it prefers, in order, the volunteer
who already has this elder this month, then last month's volunteer (elders trust a familiar face); otherwise the
least-loaded volunteer of the community (by share of capacity used). No one left → None: the visit stays unassigned
and is listed for coordinators, never dropped.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(slots=True)
class VolunteerLoad:
    id: int
    capacity: int  # visits a month
    load: int = 0  # visits already assigned this month
    communities: set[int] = field(default_factory=set)

    @property
    def free(self) -> bool:
        return self.load < self.capacity

    def share(self) -> float:
        return self.load / self.capacity if self.capacity > 0 else float("inf")


class Assigner:
    def __init__(self, volunteers: Iterable[VolunteerLoad]) -> None:
        self.volunteers = {v.id: v for v in volunteers}
        # Per community, a heap of (share, load, id); entries go stale when a load changes and are refreshed lazily.
        self._heaps: dict[int, list[tuple[float, int, int]]] = {}
        for v in self.volunteers.values():
            if v.capacity <= 0:
                continue
            for community in v.communities:
                self._heaps.setdefault(community, []).append((v.share(), v.load, v.id))
        for heap in self._heaps.values():
            heapq.heapify(heap)

    def pick(self, *, community_id: int, preferred: Sequence[int | None] = ()) -> int | None:
        """Take one unit of some volunteer's capacity for a visit in `community_id`; None if nobody can."""
        for candidate in preferred:
            volunteer = self.volunteers.get(candidate) if candidate is not None else None
            if volunteer is not None and community_id in volunteer.communities and volunteer.free:
                self._take(volunteer)
                return volunteer.id
        heap = self._heaps.get(community_id)
        while heap:
            _share, load, volunteer_id = heap[0]
            volunteer = self.volunteers[volunteer_id]
            if load != volunteer.load:  # stale: re-file at its current load
                heapq.heapreplace(heap, (volunteer.share(), volunteer.load, volunteer_id))
                continue
            if not volunteer.free:
                heapq.heappop(heap)
                continue
            self._take(volunteer)
            heapq.heapreplace(heap, (volunteer.share(), volunteer.load, volunteer_id))
            return volunteer_id
        return None

    def release(self, volunteer_id: int) -> None:
        """Give back a unit of capacity (a visit taken away from this volunteer)."""
        volunteer = self.volunteers.get(volunteer_id)
        if volunteer is None or volunteer.load == 0:
            return
        volunteer.load -= 1
        for community in volunteer.communities:
            heap = self._heaps.setdefault(community, [])
            heapq.heappush(heap, (volunteer.share(), volunteer.load, volunteer.id))

    def _take(self, volunteer: VolunteerLoad) -> None:
        volunteer.load += 1
