"""Pure decisions of the escalation engine: which step runs next, whom it pages and how, when to move on early,
and what an inbound SMS means. No I/O here: the engine loads, calls these, persists the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from carevisit.care.phones import can_sms
from carevisit.care.ports import Recipient
from carevisit.escalation.policy import EscalationPolicy, Step
from carevisit.storage.enums import Channel, DeliveryStatus, PhoneKind


@dataclass(frozen=True, slots=True)
class Target:
    """Someone who can be paged: an emergency contact or a coordinator."""

    kind: str  # "contact" or "coordinator"
    id: int
    phone: str | None
    phone_kind: PhoneKind | None
    language: str | None = None
    chat: Recipient | None = None  # the chat page's address (Telegram or WeCom), for coordinators
    label: str = ""  # for the volunteer and the archive, never for logs


@dataclass(frozen=True, slots=True)
class Page:
    target: Target
    channel: Channel

    @property
    def address(self) -> str:
        if self.channel == Channel.TELEGRAM:
            return self.target.chat.id if self.target.chat else ""
        return self.target.phone or ""


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What running step `step` does: send `pages`, then wait `wait` for an acknowledgement.

    `number` counts the pages of this incident from 1, so repeated texts differ. `repeat` is True once every
    configured step is exhausted and the coordinators are paged again.
    """

    step: int
    pages: tuple[Page, ...]
    wait: timedelta
    repeat: bool
    skipped: tuple[str, ...] = field(default_factory=tuple)  # steps passed over, and why


def step_at(policy: EscalationPolicy, index: int) -> tuple[Step, bool]:
    """The step to run at `index`; past the end it is the coordinators' step again, at the repeat interval."""
    if index < len(policy.steps):
        return policy.steps[index], False
    coordinators = [s for s in policy.steps if s.target == "coordinators"]
    base = (
        coordinators[-1] if coordinators else Step("coordinators", (Channel.TELEGRAM, Channel.SMS), policy.repeat_every)
    )
    return Step(base.target, base.channels, policy.repeat_every), True


def round_of(policy: EscalationPolicy, index: int) -> int:
    """Round 1 while the policy's steps run; past the last one each repeat of the coordinators is a new round."""
    return 1 if index < len(policy.steps) else index - len(policy.steps) + 2


def targets_of(step: Step, contacts: list[Target], coordinators: list[Target]) -> list[Target]:
    """`contact:N` is the Nth contact in position order; `coordinators` are the elder's community's."""
    if step.target == "coordinators":
        return coordinators
    if step.target.startswith("contact:"):
        n = int(step.target.split(":", 1)[1])
        return [contacts[n - 1]] if 0 < n <= len(contacts) else []
    return []


def pages_for(step: Step, targets: list[Target]) -> list[Page]:
    """SMS only to numbers that take it (a fixed line gets the call only); Telegram only with a chat."""
    return [Page(target, channel) for target in targets for channel in step.channels if reachable(target, channel)]


def reachable(target: Target, channel: Channel) -> bool:
    if channel == Channel.SMS:
        return bool(target.phone) and can_sms(target.phone_kind)
    if channel == Channel.VOICE:
        return bool(target.phone)
    return target.chat is not None


def plan_next(policy: EscalationPolicy, *, step: int, contacts: list[Target], coordinators: list[Target]) -> StepPlan:
    """From step `step` on, the first step that pages someone; steps with nobody reachable are skipped at once.

    Past the last step the coordinators are paged again; if there is nobody at all the plan is empty, and the
    incident is still kept open and retried at the repeat interval — never dropped.
    """
    skipped: list[str] = []
    index = step
    while True:
        current, repeat = step_at(policy, index)
        pages = pages_for(current, targets_of(current, contacts, coordinators))
        if pages or repeat:
            return StepPlan(index, tuple(pages), current.wait, repeat, tuple(skipped))
        skipped.append(current.target)
        index += 1


_FAILED = {
    DeliveryStatus.FAILED,
    DeliveryStatus.UNDELIVERED,
    DeliveryStatus.NO_ANSWER,
    DeliveryStatus.BUSY,
    DeliveryStatus.CANCELED,
}


def should_move_on_early(rows: list[tuple[Channel, DeliveryStatus]]) -> bool:
    """Stop waiting out a step when it cannot reach anyone: a call went unanswered (or failed), or every
    message of the step failed. Pending or delivered rows keep the step waiting for its acknowledgement."""
    if not rows:
        return True
    if any(channel == Channel.VOICE and status in _FAILED for channel, status in rows):
        return True
    return all(status in _FAILED for _, status in rows)


ACK_WORDS = frozenset({"1", "ok", "okay", "yes", "y", "收到", "确认", "好", "好的"})
STOP_WORDS = frozenset({"stop", "unsubscribe", "退订", "td", "t"})


def classify_reply(body: str) -> str | None:
    """An inbound SMS as 'ack', 'stop' or None (anything else is ignored)."""
    word = body.strip().strip("。.!！").strip().lower()
    if word in ACK_WORDS:
        return "ack"
    if word in STOP_WORDS:
        return "stop"
    return None


def throttled(*, already: int, cap: int) -> bool:
    """Per-number cap: `already` messages of this channel to the number in the current period."""
    return cap > 0 and already >= cap
