"""The escalation policy: who is paged, how, and how long we wait for an acknowledgement before moving on.

The policy in force is frozen into each incident when it opens (`snapshot`), so editing the policy file never
changes an emergency already under way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from carevisit.storage.enums import Channel


@dataclass(frozen=True, slots=True)
class Step:
    target: str  # "contact:N" (the elder's Nth emergency contact) or "coordinators" (of the elder's community)
    channels: tuple[Channel, ...]
    wait: timedelta  # for an acknowledgement before the next step


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    steps: tuple[Step, ...]
    # Once every step is exhausted unacknowledged, the coordinators are paged again at this interval: never dropped.
    repeat_every: timedelta


DEFAULT_POLICY = EscalationPolicy(
    steps=(
        Step("contact:1", (Channel.SMS, Channel.VOICE), timedelta(minutes=5)),
        Step("contact:2", (Channel.SMS, Channel.VOICE), timedelta(minutes=5)),
        Step("contact:3", (Channel.SMS, Channel.VOICE), timedelta(minutes=5)),
        Step("coordinators", (Channel.TELEGRAM, Channel.SMS), timedelta(minutes=10)),
    ),
    repeat_every=timedelta(minutes=15),
)


def snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    """A JSON-able copy of the policy to freeze into an incident."""
    return {
        "steps": [
            {
                "target": step.target,
                "channels": [str(c) for c in step.channels],
                "wait_s": step.wait.total_seconds(),
            }
            for step in policy.steps
        ],
        "repeat_every_s": policy.repeat_every.total_seconds(),
    }


def from_snapshot(data: dict[str, Any]) -> EscalationPolicy:
    return EscalationPolicy(
        steps=tuple(
            Step(step["target"], tuple(Channel(c) for c in step["channels"]), timedelta(seconds=step["wait_s"]))
            for step in data["steps"]
        ),
        repeat_every=timedelta(seconds=data["repeat_every_s"]),
    )
