"""When a month's visits close. A visit made on the evening of the 31st is often confirmed the next morning, so a
month stays open for confirmations through the first day of the next month (local time): its open visits are still
listed in the bot and can be confirmed, and such a late confirmation counts in the visit's own month. From 00:00 on
the 2nd the month is closed: nothing of it can be confirmed, the month-end job marks what is still open as missed,
and the month's figures are final.

A whole day rather than some hours: volunteers and coordinators can be told the rule in one sentence, and it does
not depend on when the month-end job happens to run.
"""

from __future__ import annotations

from datetime import date, timedelta

from carevisit.care.clock import month_of

GRACE_DAYS = 1  # days of the next month on which a month's visits can still be confirmed


def oldest_open_month(today: date) -> str:
    """The earliest month ("YYYY-MM") whose visits can still be confirmed on `today`, a local date."""
    return month_of(today - timedelta(days=GRACE_DAYS))


def is_open(month: str, *, today: date) -> bool:
    """Can visits of `month` be confirmed on `today`? Months are "YYYY-MM", so they compare as strings."""
    return month >= oldest_open_month(today)


def in_grace(month: str, *, today: date) -> bool:
    """A month that has ended but still takes late confirmations today."""
    return month < month_of(today) and is_open(month, today=today)


def final_from(month: str) -> date:
    """The first local day on which `month` is closed and its figures final (the 2nd of the next month)."""
    year, number = int(month[:4]), int(month[5:7])
    next_first = date(year + number // 12, number % 12 + 1, 1)
    return next_first + timedelta(days=GRACE_DAYS)
