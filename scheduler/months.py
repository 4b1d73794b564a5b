"""Months as the programme counts them ("YYYY-MM", local time) and the windows visits fall in."""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, timedelta

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class BadMonth(ValueError):
    """Not a month written YYYY-MM."""


def parse_month(text: str) -> tuple[int, int]:
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise BadMonth(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-03")
    return int(match.group(1)), int(match.group(2))


@functools.lru_cache(maxsize=256)  # asked once per elder while planning
def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a month."""
    year, number = parse_month(month)
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def previous_month(month: str) -> str:
    first, _ = month_bounds(month)
    before = first - timedelta(days=1)
    return f"{before.year:04d}-{before.month:02d}"


def split_into_windows(start: date, end: date, count: int) -> list[tuple[date, date]]:
    """`count` consecutive windows covering start..end as evenly as whole days allow (earlier ones never longer)."""
    days = (end - start).days + 1
    count = max(1, min(count, days))
    windows = []
    for index in range(count):
        first = start + timedelta(days=index * days // count)
        last = start + timedelta(days=(index + 1) * days // count - 1)
        windows.append((first, last))
    return windows
