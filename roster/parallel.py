"""Pass 1 on every core. Validation is CPU-bound, so a big roster is validated by worker processes: rows go out in
chunks and come back in file order, with only a few chunks in flight, so memory stays bounded.

A chunk comes back as the problems of its bad rows and its valid records already pickled, ready for the spool: the
parent never unpickles and re-pickles a million records (it was the slowest part of the parent's work).

Workers are spawned (not forked): the parent may hold database threads, and a forked copy of their locks can hang.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

Row = tuple[int, list[str]]
# validator(cells, row=row) -> a record (with `packed()`) or a list of RowProblem; must pickle (a functools.partial of a
# module function)
Validator = Callable[..., Any]

CHUNK_SIZE = 2_000


@dataclass
class Chunk:
    """One chunk of rows, validated."""

    rows: list[Row]
    problems: dict[int, list[Any]]  # index in `rows` → that row's problems (RowProblem); valid rows are absent
    records: bytes  # the valid rows' records, packed, in file order: one pickled list, as the spool holds them
    notices: dict[int, list[Any]]  # index in `rows` → a valid row's notices (RowProblem): understood, not errors


_validator: Validator | None = None


def _start(validator: Validator) -> None:
    global _validator
    _validator = validator


_Outcome = tuple[dict[int, list[Any]], bytes, dict[int, list[Any]]]


def _validate(chunk: list[Row], validator: Validator) -> _Outcome:
    problems: dict[int, list[Any]] = {}
    notices: dict[int, list[Any]] = {}
    records = []
    for index, (row, cells) in enumerate(chunk):
        outcome = validator(cells, row=row)
        if isinstance(outcome, list):
            problems[index] = outcome
        else:
            records.append(outcome.packed())
            if notes := getattr(outcome, "notices", None):  # a record may carry notices (see ElderRecord)
                notices[index] = list(notes)
    return problems, pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL), notices


def _validate_in_worker(chunk: list[Row]) -> _Outcome:
    assert _validator is not None
    return _validate(chunk, _validator)


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def validate_in_process(rows: Iterator[Row], validator: Validator, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Chunk]:
    for chunk in _chunks(rows, chunk_size):
        yield Chunk(chunk, *_validate(chunk, validator))


def validate_in_workers(
    rows: Iterator[Row], validator: Validator, *, workers: int, chunk_size: int = CHUNK_SIZE
) -> Iterator[Chunk]:
    """The same as `validate_in_process`, on `workers` processes."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(validator,)) as pool:
        in_flight: deque[tuple[list[Row], Future[_Outcome]]] = deque()
        for chunk in _chunks(rows, chunk_size):
            in_flight.append((chunk, pool.submit(_validate_in_worker, chunk)))
            if len(in_flight) >= 3 * workers:
                yield _done(*in_flight.popleft())
        while in_flight:
            yield _done(*in_flight.popleft())


def _done(chunk: list[Row], future: Future[_Outcome]) -> Chunk:
    return Chunk(chunk, *future.result())
