"""The providers' frequency limits: when a page to a number may go, which limit refuses it, and which pages of an
unacknowledged incident the escalation policy would have refused. Pure functions, tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from carevisit.escalation.policy import DEFAULT_POLICY, EscalationPolicy, Step
from carevisit.escalation.provider_limits import (
    PROVIDER_ZONE,
    LimitsFileError,
    defaults,
    load_limits,
    next_allowed,
    parse_limits,
    policy_problems,
    refused,
)
from carevisit.storage.enums import Channel

SMS, VOICE = Channel.SMS, Channel.VOICE


def at(hhmm: str, day: int = 1, seconds: int = 0) -> datetime:
    """A moment in China time on 2026-12-`day`."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime(2026, 12, day, hour, minute, seconds, tzinfo=PROVIDER_ZONE)


def times(*moments: str) -> list[datetime]:
    return [at(m) for m in moments]


@pytest.mark.parametrize(
    ("provider", "channel", "sent", "now", "expected"),
    [
        # Tencent SMS: 2 per natural day per number; the third waits for midnight, China time.
        ("tencent", SMS, [], at("10:00"), None),
        ("tencent", SMS, times("09:00"), at("10:00"), None),
        ("tencent", SMS, times("09:00", "09:30"), at("10:00"), at("00:00", day=2)),
        ("tencent", SMS, times("09:00", "09:30"), at("00:00", day=2), None),
        # ...and the same content once in 30 s (without `same`, every earlier page counts as the same).
        ("tencent", SMS, [at("10:00")], at("10:00", seconds=10), at("10:00", seconds=30)),
        # Tencent voice: 1 per 30 s, 2 per 10 min, 5 a day, and 1 at night.
        ("tencent", VOICE, times("10:00"), at("10:00", seconds=20), at("10:00", seconds=30)),
        ("tencent", VOICE, times("10:00", "10:05"), at("10:06"), at("10:10")),
        # (the sixth call waits for the new day, at midnight: a night without a call yet, so its one call is free)
        ("tencent", VOICE, times("08:00", "09:00", "10:00", "11:00", "12:00"), at("13:00"), at("00:00", day=2)),
        ("tencent", VOICE, times("23:00"), at("23:30"), at("08:00", day=2)),
        ("tencent", VOICE, times("21:59"), at("22:30"), None),
        ("tencent", VOICE, times("07:00"), at("07:45"), at("08:00")),
        # Aliyun voice: windows open at the first call and close after it (1 a minute, 5 an hour).
        ("aliyun", VOICE, times("10:00"), at("10:00", seconds=40), at("10:01")),
        ("aliyun", VOICE, times("10:00", "10:10", "10:20", "10:30", "10:40"), at("10:50"), at("11:00")),
        # From the first call, not rolling: 10:00 opens an hour that 10:59 is still in; 11:00 opens another.
        ("aliyun", VOICE, times("10:00", "10:59", "11:00", "11:01", "11:02", "11:03"), at("11:04"), None),
        # Aliyun SMS: 50 in a rolling 24 h; the 51st waits until the first of them is 24 h old.
        ("aliyun", SMS, [at("10:00") + timedelta(minutes=10 * i) for i in range(50)], at("20:00"), at("10:00", 2)),
        # Twilio and the console: no provider limits.
        ("twilio", SMS, times(*[f"10:{m:02d}" for m in range(30)]), at("10:30"), None),
        ("console", VOICE, times("10:00"), at("10:00"), None),
    ],
)
def test_next_allowed_paces_a_number_within_the_provider_limits(
    provider: str, channel: Channel, sent: list[datetime], now: datetime, expected: datetime | None
) -> None:
    assert next_allowed(defaults(provider), channel, sent, now, PROVIDER_ZONE) == expected


def test_a_page_waits_for_every_limit_not_only_the_first_it_meets() -> None:
    # Two calls at 21:50 and 21:55 fill the 10 minutes; at 22:00 the night has begun, and its one call is free,
    # but the 10-minute window ends at 22:00 exactly: the call may go then, not at 08:00.
    limits = defaults("tencent")
    assert next_allowed(limits, VOICE, times("21:50", "21:55"), at("21:58")) == at("22:00")
    # With a night call already made, the same page waits for the morning.
    assert next_allowed(limits, VOICE, times("21:50", "21:55", "22:00"), at("22:01")) == at("08:00", day=2)


def test_same_content_only_counts_pages_with_that_content() -> None:
    limits = defaults("tencent")
    earlier = [at("10:00")]
    assert next_allowed(limits, SMS, earlier, at("10:00", seconds=10), same=[]) is None
    assert next_allowed(limits, SMS, earlier, at("10:00", seconds=10), same=earlier) == at("10:00", seconds=30)


def test_aliyun_sms_counts_per_template() -> None:
    limits = defaults("aliyun")
    fifty = [at("10:00") + timedelta(minutes=i) for i in range(50)]
    assert refused(limits, SMS, fifty, at("11:00"), same=[]) is None
    assert (
        refused(limits, SMS, fifty, at("11:00"), same=fifty) == "Aliyun SMS: 50 in 24 h per sign, template and number"
    )


@pytest.mark.parametrize(
    ("provider", "channel", "sent", "now", "limit"),
    [
        ("tencent", SMS, times("09:00", "09:30"), at("10:00"), "Tencent SMS: 2 a day per number"),
        ("tencent", VOICE, times("23:00"), at("23:30"), "Tencent voice: 1 call per callee from 22:00 to 08:00"),
        ("aliyun", VOICE, times("10:00"), at("10:00", seconds=30), "Aliyun voice: 1 call a minute per callee"),
        ("aliyun", VOICE, times("10:00"), at("10:01"), None),
        ("twilio", SMS, times("10:00"), at("10:00"), None),
    ],
)
def test_refused_names_the_limit_a_page_breaks(
    provider: str, channel: Channel, sent: list[datetime], now: datetime, limit: str | None
) -> None:
    assert refused(defaults(provider), channel, sent, now) == limit


def test_the_natural_day_is_the_providers_not_utc() -> None:
    # 2026-12-01 23:30 in Beijing is 15:30 UTC: the day ends at Beijing's midnight, 16:00 UTC.
    limits = defaults("tencent")
    sent = times("09:00", "23:00")
    assert next_allowed(limits, SMS, sent, at("23:30")) == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


# -- the limits file -------------------------------------------------------------------------------------------


def test_the_limits_file_raises_a_limit_and_turns_one_off() -> None:
    limits = parse_limits("tencent", {"tencent": {"sms": {"per_day": 10}, "voice": {"per_night": 0}}})
    assert next_allowed(limits, SMS, times("09:00", "09:30"), at("10:00")) is None
    assert refused(limits, VOICE, times("23:00"), at("23:30")) is None
    assert refused(limits, VOICE, times("23:00"), at("23:00", seconds=10)) == "Tencent voice: 1 call in 30 s per callee"
    ten = times(*[f"09:{m:02d}" for m in range(0, 50, 5)])
    assert refused(limits, SMS, ten, at("10:00"), same=[]) == "Tencent SMS: per_day = 10 (limits file)"


def test_another_providers_table_is_checked_but_does_not_apply() -> None:
    limits = parse_limits("tencent", {"aliyun": {"voice": {"per_hour": 10}}})
    assert limits == defaults("tencent")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tencent": {"sms": {"per_week": 3}}}, "unknown limit 'per_week'"),
        ({"tencent": {"sms": {"per_day": "10"}}}, "per_day must be a whole number"),
        ({"tencent": {"sms": {"per_day": -1}}}, "per_day must be a whole number"),
        ({"tencent": {"fax": {"per_day": 1}}}, "[tencent.fax]: the channel is sms or voice"),
        ({"twilio": {"sms": {"per_day": 1}}}, "[twilio]: limits are for aliyun or tencent"),
        ({"tencent": 3}, "[tencent] must be a table"),
    ],
)
def test_a_bad_limits_file_names_the_entry(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_limits("tencent", data)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_load_limits_reads_the_file_and_names_it_on_error(tmp_path: Path) -> None:
    good = tmp_path / "limits.toml"
    good.write_text("[aliyun.voice]\nper_hour = 10\n", encoding="utf-8")
    six = times("10:00", "10:05", "10:10", "10:15", "10:20")
    assert refused(load_limits("aliyun", good), VOICE, six, at("10:30")) is None
    assert load_limits("aliyun", None) == defaults("aliyun")
    bad = tmp_path / "bad.toml"
    bad.write_text("[aliyun.voice\n", encoding="utf-8")
    with pytest.raises(LimitsFileError, match=r"bad\.toml: not valid TOML"):
        load_limits("aliyun", bad)
    with pytest.raises(LimitsFileError, match="cannot read"):
        load_limits("aliyun", tmp_path / "absent.toml")


# -- the escalation policy against the limits -----------------------------------------------------------------


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


CALL_EVERY_2_MIN = EscalationPolicy(
    steps=(
        Step("contact:1", (SMS, VOICE), minutes(2)),
        Step("coordinators", (Channel.TELEGRAM, VOICE), minutes(2)),
    ),
    repeat_every=minutes(2),
)


@pytest.mark.parametrize(
    ("policy", "provider", "expected"),
    [
        # The shipped policy on Tencent: the coordinators' third SMS of the day (step 4, round 3) is refused.
        (
            DEFAULT_POLICY,
            "tencent",
            [
                "step 4, round 3: the SMS to the coordinators (40 min after an incident opened at 10:00) would be "
                "refused by Tencent SMS: 2 a day per number; so would 91 later such pages within 24 h of its opening"
            ],
        ),
        # On Aliyun it fits: the repeats alternate two templates, 48 each in 24 h.
        (DEFAULT_POLICY, "aliyun", []),
        (DEFAULT_POLICY, "twilio", []),
        (DEFAULT_POLICY, "console", []),
        # "Call every 2 minutes until someone answers" breaks both clouds' voice limits. Aliyun: the coordinators'
        # calls at 2, 4, 6, 8 and 10 min fill the hour opened by the first; after four such hours, 20 in 24 h.
        (
            CALL_EVERY_2_MIN,
            "aliyun",
            [
                "step 2, round 6: the voice to the coordinators (12 min after an incident opened at 10:00) would be "
                "refused by Aliyun voice: 5 calls an hour per callee; so would 99 later such pages "
                "within 24 h of its opening",
                "step 2, round 121: the voice to the coordinators (4 h 02 min after an incident opened at 10:00) "
                "would be refused by Aliyun voice: 20 calls in 24 h per callee; so would 598 later such pages within "
                "24 h of its opening",
            ],
        ),
        # Tencent: 2 in 10 min, then 5 a day; the new day's first call at midnight uses up the night.
        (
            CALL_EVERY_2_MIN,
            "tencent",
            [
                "step 2, round 3: the voice to the coordinators (6 min after an incident opened at 10:00) would be "
                "refused by Tencent voice: 2 calls in 10 min per callee; so would 11 later such pages "
                "within 24 h of its opening",
                "step 2, round 12: the voice to the coordinators (24 min after an incident opened at 10:00) would be "
                "refused by Tencent voice: 5 calls a day per callee; so would 457 later such pages "
                "within 24 h of its opening",
                "step 2, round 421: the voice to the coordinators (14 h 02 min after an incident opened at 10:00) "
                "would be refused by Tencent voice: 1 call per callee from 22:00 to 08:00; so would 238 later such "
                "pages within 24 h of its opening",
            ],
        ),
    ],
)
def test_policy_problems_name_each_step_a_limit_refuses(
    policy: EscalationPolicy, provider: str, expected: list[str]
) -> None:
    assert policy_problems(policy, defaults(provider)) == expected


def test_without_alternating_templates_aliyun_refuses_the_51st_repeat() -> None:
    problems = policy_problems(DEFAULT_POLICY, defaults("aliyun"), alternate_repeats=False, opened_at=(time(10),))
    assert len(problems) == 1
    assert problems[0].startswith("step 4, round 51: the SMS to the coordinators (12 h 40 min after")
    assert "50 in 24 h per sign, template and number" in problems[0]


def test_raised_limits_clear_the_problem() -> None:
    raised = parse_limits("tencent", {"tencent": {"sms": {"per_day": 0, "carrier_per_day": 0}}})
    assert policy_problems(DEFAULT_POLICY, raised) == []


def test_a_limit_raised_only_to_the_carriers_ten_still_refuses_later() -> None:
    raised = parse_limits("tencent", {"tencent": {"sms": {"per_day": 50}}})
    problems = policy_problems(DEFAULT_POLICY, raised, opened_at=(time(10),))
    assert problems and "the carriers' 10 a day per number" in problems[0]
    assert problems[0].startswith("step 4, round 11:")
