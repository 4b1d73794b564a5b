"""Loading the escalation policy file (TOML): the steps, the per-number throttles, the family-report mode."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from carevisit.escalation.policy import DEFAULT_POLICY, EscalationPolicy, Step
from carevisit.storage.enums import Channel

FAMILY_REPORT_MODES = ("each_visit", "monthly", "off")


class PolicyFileError(ValueError):
    """The policy file is unusable; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Throttle:
    period: timedelta = timedelta(hours=1)
    sms_per_number: int = 6
    calls_per_number: int = 6

    def cap(self, channel: Channel) -> int:
        return {Channel.SMS: self.sms_per_number, Channel.VOICE: self.calls_per_number}.get(channel, 0)


@dataclass(frozen=True, slots=True)
class EscalationConfig:
    policy: EscalationPolicy = DEFAULT_POLICY
    throttle: Throttle = field(default_factory=Throttle)
    family_reports: str = "each_visit"


def load_config(path: Path) -> EscalationConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyFileError(f"{path}: cannot read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyFileError(f"{path}: not valid TOML ({error})") from None
    try:
        return parse_config(data)
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyFileError(f"{path}: {error}") from None


def parse_config(data: dict[str, Any]) -> EscalationConfig:
    steps = tuple(_step(i, raw) for i, raw in enumerate(data.get("steps") or [], start=1))
    if not steps:
        raise ValueError("at least one [[steps]] is needed")
    repeat = _minutes(data.get("repeat_every_minutes", 15), "repeat_every_minutes")
    throttle_raw = data.get("throttle", {})
    throttle = Throttle(
        period=_minutes(throttle_raw.get("period_minutes", 60), "throttle.period_minutes"),
        sms_per_number=int(throttle_raw.get("sms_per_number", 6)),
        calls_per_number=int(throttle_raw.get("calls_per_number", 6)),
    )
    mode = str(data.get("family_reports", {}).get("mode", "each_visit"))
    if mode not in FAMILY_REPORT_MODES:
        raise ValueError(f"family_reports.mode must be one of {', '.join(FAMILY_REPORT_MODES)}, not {mode!r}")
    return EscalationConfig(EscalationPolicy(steps, repeat), throttle, mode)


def _step(number: int, raw: dict[str, Any]) -> Step:
    target = str(raw["target"])
    if target != "coordinators" and not (
        target.startswith("contact:") and target[8:].isdigit() and int(target[8:]) > 0
    ):
        raise ValueError(f"step {number}: target must be 'contact:N' or 'coordinators', not {target!r}")
    try:
        channels = tuple(Channel(c) for c in raw["channels"])
    except ValueError:
        raise ValueError(f"step {number}: channels are sms, voice, telegram") from None
    if not channels:
        raise ValueError(f"step {number}: no channels")
    return Step(target, channels, _minutes(raw["wait_minutes"], f"step {number} wait_minutes"))


def _minutes(value: Any, name: str) -> timedelta:
    minutes = float(value)
    if minutes <= 0:
        raise ValueError(f"{name} must be positive")
    return timedelta(minutes=minutes)
