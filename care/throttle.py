"""Counting wrong guesses per key (an address, an unknown user name) in this process's memory: after the free
tries each further failure doubles the wait (`care.coordinators.wait_after`). Used by the dashboard's sign-in and the
volunteer app's sign-in links. Bounded: a flood from many keys forgets the oldest, it cannot fill the memory."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from carevisit.care.coordinators import FREE_TRIES, LONGEST_WAIT, wait_after

_MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    failures: int
    last: datetime
    locked_until: datetime | None


class Throttle:
    def __init__(self, *, free_tries: int = FREE_TRIES) -> None:
        self._free_tries = free_tries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        entry = self._current(key, now)
        if entry is None or entry.locked_until is None or entry.locked_until <= now:
            return None
        return entry.locked_until

    def fail(self, key: str, now: datetime) -> datetime | None:
        """Count a failure; the end of the lock it causes, if any."""
        entry = self._current(key, now) or _Entry(0, now, None)
        entry.failures += 1
        entry.last = now
        wait = wait_after(entry.failures, free_tries=self._free_tries)
        entry.locked_until = now + wait if wait else None
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)
        return entry.locked_until

    def _current(self, key: str, now: datetime) -> _Entry | None:
        """The entry, forgotten once it has been quiet for longer than the longest wait."""
        entry = self._entries.get(key)
        if entry is not None and now - entry.last > LONGEST_WAIT and (entry.locked_until or now) <= now:
            del self._entries[key]
            return None
        return entry
