"""When a month's visits close: through the first day of the next month, then never."""

from __future__ import annotations

from datetime import date

import pytest

from carevisit.care.month_close import final_from, in_grace, is_open, oldest_open_month


@pytest.mark.parametrize(
    ("today", "oldest_open"),
    [
        (date(2026, 3, 31), "2026-03"),
        (date(2026, 4, 1), "2026-03"),  # the 1st: last month still takes confirmations
        (date(2026, 4, 2), "2026-04"),
        (date(2027, 1, 1), "2026-12"),  # across a year
        (date(2028, 3, 1), "2028-02"),  # after a leap day
    ],
)
def test_the_oldest_month_still_open(today: date, oldest_open: str) -> None:
    assert oldest_open_month(today) == oldest_open
    assert is_open(oldest_open, today=today) and not is_open("2025-12", today=today)


def test_only_a_past_month_is_in_its_grace_day_and_its_figures_are_final_the_day_after() -> None:
    assert in_grace("2026-03", today=date(2026, 4, 1))
    assert not in_grace("2026-04", today=date(2026, 4, 1))  # the running month is simply open
    assert not in_grace("2026-03", today=date(2026, 4, 2))
    assert final_from("2026-03") == date(2026, 4, 2)
    assert final_from("2026-12") == date(2027, 1, 2)
