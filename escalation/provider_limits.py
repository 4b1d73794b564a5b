"""The active pager provider's frequency limits, as data, and the pure decisions they drive.

Both domestic clouds refuse a page to a number that has had "too many" lately, and their defaults are below what an
escalation chain asks for (../shared/CHANNELS.md §2–3; docs/providers.md for operators):

- Aliyun SMS (notifications): 50 per rolling 24 h per sign + template + number; a send counts once submitted.
- Aliyun voice: 1 a minute, 5 an hour, 20 in 24 h per callee; each window starts at the first call and resets
  after it (not rolling); failed calls count too.
- Tencent SMS: the same content at most once in 30 s; 2 per number per natural day; carriers 10 a day.
- Tencent voice (语音通知): 1 per 30 s, 2 per 10 min, 5 per natural day, and from 22:00 to 08:00 at most 1.
- Twilio and the console: none beyond our own throttle (the policy file's [throttle]).

An operator whose account has other limits (raised by a console application or a 专属号码) says so in the TOML
file named by CAREVISIT_PAGER_LIMITS_FILE; the format is in `parse_limits`.

`next_allowed` and `refused` pace and refuse a page to one number from the times of the earlier pages to it;
`policy_problems` walks an unacknowledged incident through the escalation policy and names each page a limit
would refuse, so `carevisit config check` and the policy freeze can say so before an emergency finds out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from carevisit.escalation.decide import round_of, step_at
from carevisit.escalation.policy import EscalationPolicy
from carevisit.storage.enums import Channel

# Both clouds count their days and nights in China time, whatever the deployment's own zone.
PROVIDER_ZONE = ZoneInfo("Asia/Shanghai")

Window = Literal["rolling", "from_first", "day", "night"]
Scope = Literal["number", "template", "content"]
_PAGED = (Channel.SMS, Channel.VOICE)


class LimitsFileError(ValueError):
    """The limits file is unusable; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `count` pages to one number within a window; `count` 0 means the rule is off.

    `window`: "rolling" (any `period` ending now), "from_first" (a window of `period` opens with the first page
    and closes after it, Aliyun voice), "day" (the provider's natural day), "night" (`night` = from, to).
    `scope`: which earlier pages count: all to the number, those with the same template, or the same content."""

    key: str  # the name in the limits file
    label: str  # for messages: "2 a day per number"
    count: int
    window: Window
    period: timedelta = timedelta(0)
    scope: Scope = "number"
    night: tuple[time, time] = (time(22, 0), time(8, 0))


@dataclass(frozen=True, slots=True)
class Limits:
    provider: str
    rules: dict[Channel, tuple[Rule, ...]] = field(default_factory=dict)

    def of(self, channel: Channel) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules.get(channel, ()) if rule.count > 0)

    @property
    def name(self) -> str:
        return _PROVIDER_NAMES.get(self.provider, self.provider)


_PROVIDER_NAMES = {"aliyun": "Aliyun", "tencent": "Tencent", "twilio": "Twilio", "console": "the console"}
_DAY = timedelta(hours=24)

DEFAULTS: dict[str, Limits] = {
    "aliyun": Limits(
        "aliyun",
        {
            Channel.SMS: (
                Rule("per_24h", "50 in 24 h per sign, template and number", 50, "rolling", _DAY, "template"),
            ),
            Channel.VOICE: (
                Rule("per_minute", "1 call a minute per callee", 1, "from_first", timedelta(minutes=1)),
                Rule("per_hour", "5 calls an hour per callee", 5, "from_first", timedelta(hours=1)),
                Rule("per_24h", "20 calls in 24 h per callee", 20, "from_first", _DAY),
            ),
        },
    ),
    "tencent": Limits(
        "tencent",
        {
            Channel.SMS: (
                Rule(
                    "same_content_per_30s",
                    "the same content once in 30 s",
                    1,
                    "rolling",
                    timedelta(seconds=30),
                    "content",
                ),
                Rule("per_day", "2 a day per number", 2, "day"),
                Rule("carrier_per_day", "the carriers' 10 a day per number", 10, "day"),
            ),
            Channel.VOICE: (
                Rule("per_30s", "1 call in 30 s per callee", 1, "rolling", timedelta(seconds=30)),
                Rule("per_10min", "2 calls in 10 min per callee", 2, "rolling", timedelta(minutes=10)),
                Rule("per_day", "5 calls a day per callee", 5, "day"),
                Rule("per_night", "1 call per callee from 22:00 to 08:00", 1, "night"),
            ),
        },
    ),
    "twilio": Limits("twilio"),
    "console": Limits("console"),
}


# -- the limits file --------------------------------------------------------------------------------------------


def load_limits(provider: str, path: Path | None) -> Limits:
    """The provider's default limits, with the operator's file (if any) applied over them."""
    if path is None:
        return defaults(provider)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise LimitsFileError(f"{path}: cannot read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise LimitsFileError(f"{path}: not valid TOML ({error})") from None
    try:
        return parse_limits(provider, data)
    except ValueError as error:
        raise LimitsFileError(f"{path}: {error}") from None


def defaults(provider: str) -> Limits:
    try:
        return DEFAULTS[provider]
    except KeyError:
        raise ValueError(f"no such pager provider {provider!r}") from None


def parse_limits(provider: str, data: dict[str, Any]) -> Limits:
    """Apply a limits file to the defaults. The file holds one table per provider and channel, each key a rule
    of that provider set to a whole number (0 turns it off), e.g.

        [tencent.sms]
        per_day = 10            # the account's raised daily limit

        [aliyun.voice]
        per_hour = 10

    Tables of other providers are allowed (one file can serve a move between clouds) but checked all the same."""
    chosen = defaults(provider)
    for name, channels in data.items():
        if name not in DEFAULTS or name in ("twilio", "console"):
            raise ValueError(f"[{name}]: limits are for aliyun or tencent")
        if not isinstance(channels, dict):
            raise ValueError(f"[{name}] must be a table")
        parsed = _apply(DEFAULTS[name], channels)
        if name == provider:
            chosen = parsed
    return chosen


def _apply(base: Limits, channels: dict[str, Any]) -> Limits:
    rules = dict(base.rules)
    for channel_name, values in channels.items():
        entry = f"[{base.provider}.{channel_name}]"
        try:
            channel = Channel(channel_name)
        except ValueError:
            raise ValueError(f"{entry}: the channel is sms or voice") from None
        if channel not in rules or not isinstance(values, dict):
            raise ValueError(f"{entry}: the channel is sms or voice, and a table")
        known = {rule.key: rule for rule in rules[channel]}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{entry}: unknown limit {key!r}; the limits are {', '.join(known)}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{entry}: {key} must be a whole number (0 = no limit)")
            known[key] = _relabelled(known[key], value)
        rules[channel] = tuple(known.values())
    return replace(base, rules=rules)


def _relabelled(rule: Rule, count: int) -> Rule:
    label = rule.label if count == rule.count else f"{rule.key} = {count} (limits file)"
    return replace(rule, count=count, label=label)


# -- pacing one number -------------------------------------------------------------------------------------------


def next_allowed(
    limits: Limits,
    channel: Channel,
    sent_at: Sequence[datetime],
    now: datetime,
    zone: ZoneInfo = PROVIDER_ZONE,
    *,
    same: Sequence[datetime] | None = None,
) -> datetime | None:
    """When a page to this number on `channel` may go, given the times of the earlier pages to it (None: now).

    `same` are those of the earlier pages with the same template (Aliyun's scope) or the same content (Tencent's
    30 s rule); without it every earlier page is assumed to be the same, which can only pace more, never less.
    Times are aware; `zone` is the one the provider counts its days and nights in."""
    at = now
    for _ in range(64):  # each pass moves `at` forward past one rule; a handful of rules settle in a few
        later = max(
            (_free_from(rule, _history(rule, sent_at, same), at, zone) for rule in limits.of(channel)), default=at
        )
        if later <= at:
            return None if at == now else at
        at = later
    return at


def refused(
    limits: Limits,
    channel: Channel,
    sent_at: Sequence[datetime],
    now: datetime,
    zone: ZoneInfo = PROVIDER_ZONE,
    *,
    same: Sequence[datetime] | None = None,
) -> str | None:
    """The limit a page to this number now breaks, as a sentence ("Tencent SMS: 2 a day per number"), or None."""
    for rule in limits.of(channel):
        if _free_from(rule, _history(rule, sent_at, same), now, zone) > now:
            return f"{limits.name} {channel_word(channel)}: {rule.label}"
    return None


def channel_word(channel: Channel) -> str:
    return {Channel.SMS: "SMS", Channel.VOICE: "voice"}.get(channel, str(channel))


def _history(rule: Rule, sent_at: Sequence[datetime], same: Sequence[datetime] | None) -> list[datetime]:
    return sorted(sent_at if rule.scope == "number" or same is None else same)


def _free_from(rule: Rule, history: list[datetime], at: datetime, zone: ZoneInfo) -> datetime:
    """The earliest moment from `at` on at which `rule` lets one more page go."""
    history = [s for s in history if s <= at]
    if rule.window == "rolling":
        recent = [s for s in history if s > at - rule.period]
        return at if len(recent) < rule.count else recent[len(recent) - rule.count] + rule.period
    if rule.window == "from_first":
        return _from_first(rule, history, at)
    start, end = _night(rule, at, zone) if rule.window == "night" else _day(at, zone)
    if start is None or end is None:
        return at
    inside = sum(1 for s in history if start <= s < end)
    return at if inside < rule.count else end


def _from_first(rule: Rule, history: list[datetime], at: datetime) -> datetime:
    opened: datetime | None = None
    count = 0
    for sent in history:
        if opened is None or sent >= opened + rule.period:
            opened, count = sent, 0
        count += 1
    if opened is None or at >= opened + rule.period or count < rule.count:
        return at
    return opened + rule.period


def _day(at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    local = at.astimezone(zone).date()
    return _midnight(local, zone), _midnight(local + timedelta(days=1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _night(rule: Rule, at: datetime, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The night `at` falls in (from, to), or (None, None) in the day."""
    begins, ends = rule.night
    local = at.astimezone(zone)
    if local.time() >= begins:
        day = local.date()
    elif local.time() < ends:
        day = local.date() - timedelta(days=1)
    else:
        return None, None
    return datetime.combine(day, begins, tzinfo=zone), datetime.combine(day + timedelta(days=1), ends, tzinfo=zone)


# -- the policy against the limits -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """A page of an unacknowledged incident that a limit would refuse."""

    step: int  # 1-based, as the policy file counts its [[steps]]
    round: int
    target: str  # "contact:N" or "coordinators"
    channel: Channel
    at: timedelta  # after the incident opened
    limit: str
    opened: time  # the local time the walk assumed the incident opened at
    horizon: timedelta = _DAY  # how long the walk went on

    def sentence(self, more: int = 0) -> str:
        who = "the coordinators" if self.target == "coordinators" else self.target.replace("contact:", "contact ")
        text = (
            f"step {self.step}, round {self.round}: the {channel_word(self.channel)} to {who} "
            f"({_after(self.at)} after an incident opened at {self.opened:%H:%M}) would be refused by {self.limit}"
        )
        later = (
            f"; so would {more} later such page{'s' if more > 1 else ''} within {_after(self.horizon)} of its opening"
        )
        return text + (later if more else "")


def policy_problems(
    policy: EscalationPolicy,
    limits: Limits,
    *,
    horizon: timedelta = _DAY,
    opened_at: Iterable[time] = (time(10, 0), time(23, 0)),
    zone: ZoneInfo = PROVIDER_ZONE,
    alternate_repeats: bool = True,
) -> list[str]:
    """Which pages of an incident nobody acknowledges would be refused by `limits`, as sentences.

    The walk pages each contact at its step and the coordinators at theirs and then every `repeat_every`, over
    `horizon`, for an incident opened at each of `opened_at` (local; the night limits depend on it). Every
    coordinator has the same history, so one number stands for all. A refused page is not counted as sent (the
    provider did not take it). Repeats count as another template when `alternate_repeats` (the engine sends the
    `…_repeat` kinds every other round), which halves what Aliyun's per-template limit sees. Pages carry their
    round and time, so Tencent's same-content rule never matches two of them. Each step waits its full time: a
    step that moves on early (an unanswered call) pages sooner than the walk, so a limit may bite sooner too."""
    found = policy_refusals(
        policy, limits, horizon=horizon, opened_at=opened_at, zone=zone, alternate_repeats=alternate_repeats
    )
    return [refusal.sentence(more) for refusal, more in found]


def policy_refusals(
    policy: EscalationPolicy,
    limits: Limits,
    *,
    horizon: timedelta = _DAY,
    opened_at: Iterable[time] = (time(10, 0), time(23, 0)),
    zone: ZoneInfo = PROVIDER_ZONE,
    alternate_repeats: bool = True,
) -> list[tuple[Refusal, int]]:
    """`policy_problems` as data: the first refusal per target, channel and limit, and how many more pages of
    the same walk that limit refuses. A refusal in round 1 means the chain itself cannot reach someone once; in a
    later round, a repeat to the coordinators is refused (and recorded as refused, the chain goes on)."""
    found: dict[tuple[str, Channel, str], list[Refusal]] = {}
    for opened in opened_at:
        for refusal in _walk(policy, limits, horizon, opened, zone, alternate_repeats):
            found.setdefault((refusal.target, refusal.channel, refusal.limit), []).append(refusal)
    return [(group[0], sum(1 for r in group[1:] if r.opened == group[0].opened)) for group in found.values()]


def _walk(
    policy: EscalationPolicy, limits: Limits, horizon: timedelta, opened: time, zone: ZoneInfo, alternate: bool
) -> list[Refusal]:
    start = datetime.combine(date(2026, 1, 5), opened, tzinfo=zone)
    sent: dict[tuple[str, Channel], list[tuple[datetime, int]]] = {}
    refusals: list[Refusal] = []
    at, index = start, 0
    while at - start < horizon:
        step, _repeat = step_at(policy, index)
        number = round_of(policy, index)
        for channel in step.channels:
            if channel not in _PAGED or not limits.of(channel):
                continue
            earlier = sent.setdefault((step.target, channel), [])
            template = number % 2 if alternate else 0
            limit = refused(
                limits,
                channel,
                [s for s, _ in earlier],
                at,
                zone,
                same=[s for s, t in earlier if t == template and limit_scope_is_template(limits, channel)],
            )
            if limit is None:
                earlier.append((at, template))
            else:
                refusals.append(
                    Refusal(
                        _step_number(policy, index), number, step.target, channel, at - start, limit, opened, horizon
                    )
                )
        at += step.wait
        index += 1
    return refusals


def _step_number(policy: EscalationPolicy, index: int) -> int:
    """1-based; a repeat is the coordinators' step again (the last one naming them, as `step_at` takes)."""
    if index < len(policy.steps):
        return index + 1
    named = [i for i, step in enumerate(policy.steps) if step.target == "coordinators"]
    return (named[-1] if named else len(policy.steps) - 1) + 1


def limit_scope_is_template(limits: Limits, channel: Channel) -> bool:
    """Whether `same` means the same template on this channel (Aliyun SMS); for content it never matches."""
    return any(rule.scope == "template" for rule in limits.of(channel))


def _after(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
