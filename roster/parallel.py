"""Pass 1 on every core. phonenumbers makes validation CPU-bound (about 56 µs a number, three numbers a row), so a
big roster is validated by worker processes: rows go out in chunks and come back in file order, with only a few
chunks in flight, so memory stays bounded.

Workers are spawned (not forked): the parent may hold database threads, and a forked copy of their locks can hang.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any

Row = tuple[int, list[str]]
# validator(cells, row=row) -> a record or a list of RowProblem; must pickle (a functools.partial of a module function)
Validator = Callable[..., Any]

_validator: Validator | None = None


def _start(validator: Validator) -> None:
    global _validator
    _validator = validator


def _validate_chunk(chunk: list[Row]) -> list[Any]:
    assert _validator is not None
    return [_validator(cells, row=row) for row, cells in chunk]


def validate_in_process(rows: Iterator[Row], validator: Validator) -> Iterator[tuple[int, list[str], Any]]:
    for row, cells in rows:
        yield row, cells, validator(cells, row=row)


def validate_in_workers(
    rows: Iterator[Row], validator: Validator, *, workers: int, chunk_size: int = 1_000
) -> Iterator[tuple[int, list[str], Any]]:
    """The same as `validate_in_process`, on `workers` processes."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(validator,)) as pool:
        in_flight: deque[tuple[list[Row], Future[list[Any]]]] = deque()
        while chunk := list(islice(rows, chunk_size)):
            in_flight.append((chunk, pool.submit(_validate_chunk, chunk)))
            if len(in_flight) >= 3 * workers:
                yield from _results(*in_flight.popleft())
        while in_flight:
            yield from _results(*in_flight.popleft())


def _results(chunk: list[Row], future: Future[list[Any]]) -> Iterator[tuple[int, list[str], Any]]:
    for (row, cells), outcome in zip(chunk, future.result(), strict=True):
        yield row, cells, outcome
