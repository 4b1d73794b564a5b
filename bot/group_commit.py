"""Group commit: many concurrent callers share one database write, each waiting until its own item is written.

Why: on the webhook path every update must be committed before Telegram gets its 200, and a commit per request
(plus a connection per request) is what capped the bot at a few dozen updates a second. Here one writer at a time
writes everything submitted so far; whatever arrives while it runs goes into the next write. There is no timer:
a lone request is written at once, and under load the batches grow by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """`await submit(item)` returns once `write` has durably written a batch holding `item` (its result for that
    item), or raises what `write` raised for that batch. `write(items)` returns one result per item, in order."""

    def __init__(self, write: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # A caller that goes away (the HTTP client hung up) does not stop the write the others are waiting for.
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # every caller of this batch learns it was not written
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
