"""The month picker's choices, worded by the server ("2026年12月"): a browser's own month box speaks the language of
its interface ("December 2026" on an English Chromium), not the dashboard's."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date

Translate = Callable[[str], str]
BACK = 24  # months before this one: two years of reports
AHEAD = 2  # and after it: next month's plan


def _shifted(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def month_label(t: Translate, month: str) -> str:
    """ "2026-12" → 2026年12月 (December 2026 in English)."""
    year, number = (int(part) for part in month.split("-"))
    return t("show.month_label").format(year=year, month=number, name=calendar.month_name[number])


def month_choices(t: Translate, chosen: str, *, today: date) -> list[tuple[str, str]]:
    """(value, words) for each month from BACK months ago to AHEAD months on, newest first; the chosen month is
    among them even when it lies outside (an old link)."""
    values = ["{:04d}-{:02d}".format(*_shifted(today.year, today.month, by)) for by in range(AHEAD, -BACK - 1, -1)]
    if chosen and chosen not in values:
        values = sorted([*values, chosen], reverse=True)
    return [(value, month_label(t, value)) for value in values]
