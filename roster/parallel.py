"""Pass 1 on every core. Validation is CPU-bound, so a big roster is validated by worker processes: rows go out in
chunks and come back in file order, with only a few chunks in flight, so memory stays bounded.

A chunk comes back as the problems of its bad rows and its valid records already pickled, ready for the spool: the
parent never unpickles and re-pickles a million records (it was the slowest part of the parent's work).

A workbook's sheets each have their own columns, hence their own validator: chunks never span two sheets, and carry
the index of theirs.

Workers are spawned (not forked): the parent may hold database threads, and a forked copy of their locks can hang.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

Row = tuple[int, list[str]]
Sheets = Iterable[tuple[int, Iterator[Row]]]  # (sheet index, its rows)
# validator(cells, row=row) -> a record (with `packed()`) or a list of RowProblem; must pickle (a functools.partial of a
# module function)
Validator = Callable[..., Any]

CHUNK_SIZE = 2_000


@dataclass
class Chunk:
    """One chunk of rows, validated."""

    sheet: int
    rows: list[Row]
    problems: dict[int, list[Any]]  # index in `rows` → that row's problems (RowProblem); valid rows are absent
    records: bytes  # the valid rows' records, packed, in file order: one pickled list, as the spool holds them
    notices: dict[int, list[Any]]  # index in `rows` → a valid row's notices (RowProblem): understood, not errors


_validators: Sequence[Validator] = ()


def _start(validators: Sequence[Validator]) -> None:
    global _validators
    _validators = validators


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


def _validate_in_worker(sheet: int, chunk: list[Row]) -> _Outcome:
    return _validate(chunk, _validators[sheet])


def _chunks(sheets: Sheets, size: int) -> Iterator[tuple[int, list[Row]]]:
    for sheet, rows in sheets:
        while chunk := list(islice(rows, size)):
            yield sheet, chunk


def validate_in_process(
    sheets: Sheets, validators: Sequence[Validator], *, chunk_size: int = CHUNK_SIZE
) -> Iterator[Chunk]:
    """Each sheet's rows validated by `validators[sheet]`, in chunks, in order."""
    for sheet, chunk in _chunks(sheets, chunk_size):
        yield Chunk(sheet, chunk, *_validate(chunk, validators[sheet]))


def validate_in_workers(
    sheets: Sheets, validators: Sequence[Validator], *, workers: int, chunk_size: int = CHUNK_SIZE
) -> Iterator[Chunk]:
    """The same as `validate_in_process`, on `workers` processes."""
    context = multiprocessing.get_context("spawn")
    initargs = (tuple(validators),)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=initargs) as pool:
        in_flight: deque[tuple[int, list[Row], Future[_Outcome]]] = deque()
        for sheet, chunk in _chunks(sheets, chunk_size):
            in_flight.append((sheet, chunk, pool.submit(_validate_in_worker, sheet, chunk)))
            if len(in_flight) >= 3 * workers:
                yield _done(*in_flight.popleft())
        while in_flight:
            yield _done(*in_flight.popleft())


def _done(sheet: int, chunk: list[Row], future: Future[_Outcome]) -> Chunk:
    return Chunk(sheet, chunk, *future.result())
