"""The escalation loops of one process: the engine cycle and the outbox worker, side by side.

The engine steps due incidents in chunks (one transaction each) and hands the pages it wrote — committed already
claimed by this process's worker — straight to the worker, with no claim of their own. (Smaller first chunks were
measured, to start sending sooner: in one process the engine and the sending share one event loop, and the
extra transactions made a flood's last page later, not its first earlier.) The worker claims a round
whenever rows are due and sends it in the background, claiming the next while earlier ones are still sending (at
most `worker.batch` rows in flight): a slow provider request no longer holds up every other page, nor the engine.
Rounds share the worker's concurrency, a waiting text before a waiting call. Otherwise it waits for a nudge or
its interval. Any number of processes may run these loops on one database (`claims`); a pass or a round that
fails is logged and the loops carry on — a bad pass must not stop paging.

Whoever opens an incident in this process may `nudge()` the loops to look at once rather than at the next
interval. Callers can wait on progress instead of sleeping: `wait_idle(n)` returns once both loops have come
round `n` more times with nothing to do and no round in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.outbox import OutboxWorker, Round

log = logging.getLogger(__name__)

T = TypeVar("T")


class EscalationLoops:
    def __init__(
        self, esc: Escalation, worker: OutboxWorker, *, interval: float = 1.0, chunk: int | None = None
    ) -> None:
        self.esc = esc
        self.worker = worker
        self.interval = interval  # idle polling: incidents opened by another process nudge nobody here
        # At most this many incidents per engine transaction: on SQLite (one writer) few large transactions; on
        # PostgreSQL smaller ones, so that the processes sharing a flood each take a part of it (SKIP LOCKED).
        self.chunk = chunk or (200 if esc.single_writer else 100)
        self._nudge = asyncio.Event()  # rows may be due: the engine committed, or a round finished
        self._incidents = asyncio.Event()  # incidents may be due: someone in this process opened one
        self._progress = asyncio.Condition()
        self._idle = {"engine": 0, "outbox": 0}
        self._in_flight = 0  # rows of rounds still sending
        self._stopping = False

    def stop(self) -> None:
        """Finish the passes and rounds in progress, start no new ones, and return from `run`."""
        self._stopping = True
        self._incidents.set()
        self._nudge.set()

    def nudge(self) -> None:
        """Something was opened or queued in this process: look now rather than at the next interval."""
        self._incidents.set()
        self._nudge.set()

    @property
    def idle_passes(self) -> int:
        return min(self._idle.values())

    async def wait_idle(self, n: int = 1) -> None:
        """Until both loops have come round `n` more times with nothing to do (and no round in flight)."""
        target = self.idle_passes + n
        async with self._progress:
            await self._progress.wait_for(lambda: self.idle_passes >= target)

    async def run(self) -> None:
        """Reconcile what a previous process left (expired leases only), then run both loops until stopped (the
        rounds still sending finish first) or cancelled."""
        self._stopping = False
        await _safely(self.worker.recover, 0)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._engine_loop(), name="escalation-engine")
            group.create_task(self._outbox_loop(group), name="escalation-outbox")

    async def _engine_loop(self) -> None:
        cycle = partial(run_cycle, self.esc, limit=self.chunk, sender=self.worker)
        while not self._stopping:
            if await _safely(cycle, 0):
                self._nudge.set()
                continue  # more may be due: a flood is stepped chunk after chunk
            await self._came_round_idle("engine")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._incidents.wait(), self.interval)
            self._incidents.clear()

    async def _outbox_loop(self, group: asyncio.TaskGroup) -> None:
        while not self._stopping:
            self._nudge.clear()
            # Pages handed over by the engine are taken at once (their leases are renewed only once a round
            # holds them); otherwise at most a batch of rows is in flight.
            if self._in_flight < self.worker.batch or self.worker.has_adopted:
                round_ = await _safely(self.worker.claim_round, None)
                if round_ is not None:
                    self._in_flight += len(round_)
                    group.create_task(self._run_round(round_), name="escalation-round")
                    continue
                if not self._in_flight:
                    await self._came_round_idle("outbox")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), self.interval)

    async def _run_round(self, round_: Round) -> None:
        try:
            await _safely(lambda: self.worker.run_round(round_), None)
        finally:
            self._in_flight -= len(round_)
            self._nudge.set()  # retries may be due at once, and there is room for another round

    async def _came_round_idle(self, loop: str) -> None:
        self._idle[loop] += 1
        async with self._progress:
            self._progress.notify_all()


async def _safely(work: Callable[[], Awaitable[T]], failed: T) -> T:
    try:
        return await work()
    except Exception:  # logged with its traceback; the loop goes on
        log.exception("escalation: a pass of %s failed", getattr(work, "__name__", "a loop"))
        return failed
