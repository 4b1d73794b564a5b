"""The fault matrix's axes, and its table at the end of a run (tests/e2e/test_fault_matrix.py fills it).

Rows are the steps of the emergency chain, columns the faults injected there; a cell is `pass`, `FAIL` or `—` (no
case: the fault does not happen at that step). The conftest's hooks collect each case's outcome from its
`user_properties` and print the table only when matrix cases ran.
"""

from __future__ import annotations

from collections.abc import Iterable

STEPS = (
    "1 tap",
    "2 update stored",
    "3 handler",
    "4 incident opened",
    "5 outbox rows",
    "6 provider call",
    "7 status callback",
    "8 acknowledgement",
    "9 resolution",
)
FAULTS = ("crash", "replay", "double", "late 15s", "429", "5xx", "hang", "list lag", "failed")
PROPERTY = "fault_matrix"  # user_properties key: (step, fault)


def merge(outcomes: dict[tuple[str, str], str], cell: tuple[str, str], outcome: str) -> None:
    """A cell fails if any of its runs failed (a case runs once per database backend)."""
    if outcomes.get(cell) != "FAIL":
        outcomes[cell] = "FAIL" if outcome != "passed" else "pass"


def render(outcomes: dict[tuple[str, str], str]) -> Iterable[str]:
    first = max(len(step) for step in STEPS)
    widths = [max(len(fault), 4) for fault in FAULTS]
    yield " " * first + " | " + " | ".join(f.ljust(w) for f, w in zip(FAULTS, widths, strict=True))
    yield "-" * first + "-+-" + "-+-".join("-" * w for w in widths)
    for step in STEPS:
        cells = (outcomes.get((step, fault), "—").ljust(w) for fault, w in zip(FAULTS, widths, strict=True))
        yield step.ljust(first) + " | " + " | ".join(cells)
