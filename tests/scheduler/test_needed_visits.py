"""The pure planning decision: which visits an elder needs in a month (tables of cases, no database)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from carevisit.scheduler.months import BadMonth, month_bounds, split_into_windows
from carevisit.scheduler.planning import ElderForPlan, needed_visits
from carevisit.scheduler.visit_policy import PolicyError, VisitPolicy, policy_from_toml
from carevisit.storage.enums import ElderClass, ElderStatus, RiskLevel, VisitMode

H, P = VisitMode.HOME, VisitMode.PHONE


def elder(**overrides: object) -> ElderForPlan:
    values: dict[str, object] = {
        "id": 1,
        "community_id": 1,
        "risk": RiskLevel.LOW,
        "classes": int(ElderClass.ALONE),
        "status": ElderStatus.ACTIVE,
        "enrolled_on": date(2020, 1, 1),
        "paused_until": None,
    }
    values.update(overrides)
    return ElderForPlan(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("risk", "classes", "modes"),
    [
        (RiskLevel.HIGH, ElderClass.ALONE, [H, P, H, P]),
        (RiskLevel.MEDIUM, ElderClass.EMPTY_NEST, [H, P]),
        (RiskLevel.LOW, ElderClass.DISABLED | ElderClass.ALONE, [H, P]),
        (RiskLevel.LOW, ElderClass.ADVANCED_AGE, [H]),
    ],
)
def test_the_shipped_policy_gives_visits_by_risk_and_class(
    policy: VisitPolicy, risk: RiskLevel, classes: ElderClass, modes: list[VisitMode]
) -> None:
    visits = needed_visits(policy, elder(risk=risk, classes=int(classes)), month="2026-03", today=date(2026, 3, 1))
    assert [v.mode for v in visits] == modes
    assert visits[0].window_start == date(2026, 3, 1) and visits[-1].window_end == date(2026, 3, 31)
    # Consecutive windows, no gap, no overlap.
    for before, after in itertools.pairwise(visits):
        assert (after.window_start - before.window_end).days == 1


@pytest.mark.parametrize(
    ("month", "last_day"),
    [
        ("2026-02", date(2026, 2, 28)),
        ("2028-02", date(2028, 2, 29)),
        ("2026-04", date(2026, 4, 30)),
        ("2026-12", date(2026, 12, 31)),
    ],
)
def test_month_ends_and_leap_years(policy: VisitPolicy, month: str, last_day: date) -> None:
    first, last = month_bounds(month)
    assert last == last_day
    visits = needed_visits(policy, elder(risk=RiskLevel.HIGH), month=month, today=first)
    assert visits[-1].window_end == last_day
    assert sum((v.window_end - v.window_start).days + 1 for v in visits) == last_day.day


def test_a_leap_february_splits_into_four_whole_weeks_and_a_plain_one_too() -> None:
    assert split_into_windows(date(2028, 2, 1), date(2028, 2, 29), 4)[-1] == (date(2028, 2, 22), date(2028, 2, 29))
    assert split_into_windows(date(2026, 2, 1), date(2026, 2, 28), 4)[-1] == (date(2026, 2, 22), date(2026, 2, 28))


def test_an_elder_enrolled_mid_month_gets_the_rest_of_the_month(policy: VisitPolicy) -> None:
    late = elder(risk=RiskLevel.HIGH, enrolled_on=date(2026, 3, 17))
    visits = needed_visits(policy, late, month="2026-03", today=date(2026, 3, 17))
    assert [v.mode for v in visits] == [H, P]  # 15 of 31 days: two of the four, the home visit first
    assert visits[0].window_start == date(2026, 3, 17) and visits[-1].window_end == date(2026, 3, 31)


def test_planning_late_in_the_month_never_puts_a_window_in_the_past(policy: VisitPolicy) -> None:
    visits = needed_visits(policy, elder(), month="2026-03", today=date(2026, 3, 31))
    assert [(v.window_start, v.window_end) for v in visits] == [(date(2026, 3, 31), date(2026, 3, 31))]
    # A future month is planned whole whatever today is.
    april = needed_visits(policy, elder(), month="2026-04", today=date(2026, 3, 31))
    assert april[0].window_start == date(2026, 4, 1)


@pytest.mark.parametrize(
    ("status", "paused_until", "first_day"),
    [
        (ElderStatus.PAUSED, None, None),  # in hospital, no end date: skipped
        (ElderStatus.PAUSED, date(2026, 4, 2), None),  # paused for the whole month
        (ElderStatus.PAUSED, date(2026, 3, 20), date(2026, 3, 21)),  # resumes on the 21st
        (ElderStatus.ACTIVE, date(2026, 2, 27), date(2026, 3, 1)),  # an old pause is over
    ],
)
def test_pause_and_resume(
    policy: VisitPolicy, status: ElderStatus, paused_until: date | None, first_day: date | None
) -> None:
    visits = needed_visits(
        policy, elder(status=status, paused_until=paused_until), month="2026-03", today=date(2026, 3, 1)
    )
    assert (visits[0].window_start if visits else None) == first_day


@pytest.mark.parametrize("text", ["2026-13", "2026-3", "march", "1999-01", ""])
def test_a_malformed_month_is_refused_with_the_format(text: str) -> None:
    with pytest.raises(BadMonth, match="YYYY-MM"):
        month_bounds(text)


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('name="x"\n[[rules]]\nvisits=["home"]', "version"),
        ('version="1"\n[[rules]]\nrisk=["extreme"]\nvisits=["home"]', "risk"),
        ('version="1"\n[[rules]]\nvisits=["carrier pigeon"]', "modes"),
        ('version="1"\n[[rules]]\nclasses=["lonely"]\nvisits=["home"]', "unknown class"),
        ('version="1"\n[[rules]]\nrisk=["high"]\nvisits=["home"]', "last rule"),
        ('version="1"\nrules = [', "TOML"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_problem(toml: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        policy_from_toml(toml)


def test_the_policy_version_changes_with_the_file(policy: VisitPolicy) -> None:
    text = 'version="1"\n[[rules]]\nvisits=["home"]'
    assert policy_from_toml(text).version != policy_from_toml(text + "\n# edited").version
    assert policy.version.startswith("default-2026.1@")
