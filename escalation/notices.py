"""What the pager is asked to send: a notice (an SMS) or a voice script, each a kind plus typed variables.

Domestic SMS and voice in mainland China send only templates approved in advance, filled with variables; free text
is refused. So the engine never hands the pager a sentence: it names a kind (`family_emergency`, `all_clear`, …) and
its variables, and each adapter maps the kind to its approved template (`pager_templates`). Twilio and the console
send `text`, the same kind rendered from our zh_CN/en catalogue (`texts.render_notice`) when the row was written.

The variables a kind may use are listed in `KINDS`; docs/providers.md shows them per kind with the wording to get
approved. `link` is ours only (the signed link for Twilio and chat): no domestic template may carry a link in a
variable, so a domestic SMS names the fixed acknowledgement page in its text and carries `code` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The variables a template may take, and what each holds (documented for operators in docs/providers.md).
VARIABLES: dict[str, str] = {
    "name": "the elder's name",
    "what": "the kind of emergency in a few words (跌倒, 身体不适, 火情, 安全问题, 疑似传染病, 紧急情况)",
    "code": "the one-time acknowledgement code (6 digits) for CAREVISIT_PUBLIC_URL/a",
    "volunteer": "the reporting or visiting volunteer's name",
    "volunteer_phone": "the volunteer's mobile number (11 digits)",
    "time": "local time of the page, HH:MM",
    "round": "which page or round this is (1, 2, …)",
    "community": "the elder's community (社区)",
    "date": "a local date, MM-DD",
    "finding": "what a visit found, one of a fixed set of short phrases (情况良好, 发现问题，社区已跟进, …)",
    "month": "a month number (1–12)",
    "count": "a number of visits",
}

SMS = "sms"
VOICE = "voice"

# kind -> (channel, the variables it may fill). A template may use any subset, in its own order.
KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    (SMS, "family_emergency"): ("name", "what", "volunteer", "volunteer_phone", "time", "round", "code"),
    (SMS, "family_emergency_repeat"): ("name", "what", "volunteer", "volunteer_phone", "time", "round", "code"),
    (SMS, "coordinator_emergency"): ("name", "what", "community", "volunteer", "volunteer_phone", "round", "code"),
    (SMS, "coordinator_emergency_repeat"): (
        "name",
        "what",
        "community",
        "volunteer",
        "volunteer_phone",
        "round",
        "code",
    ),
    (SMS, "drill"): ("name", "volunteer", "time", "round", "code"),
    (SMS, "drill_repeat"): ("name", "volunteer", "time", "round", "code"),
    (SMS, "all_clear"): ("name",),
    (SMS, "visit_report"): ("name", "volunteer", "date", "finding"),
    (SMS, "monthly_report"): ("name", "month", "count", "date"),
    (VOICE, "family_emergency"): ("name", "what", "volunteer"),
    (VOICE, "coordinator_emergency"): ("name", "what", "community", "volunteer"),
    (VOICE, "drill"): ("name", "volunteer"),
}

# The kinds a deployment on a domestic provider must have a template for (`monthly_report` only when family
# reports are monthly); the repeats fall back to these (`FALLBACKS`).
REQUIRED: tuple[tuple[str, str], ...] = (
    (SMS, "family_emergency"),
    (SMS, "coordinator_emergency"),
    (SMS, "all_clear"),
    (SMS, "drill"),
    (SMS, "visit_report"),
    (VOICE, "family_emergency"),
)

# A repeat kind without a template of its own is sent with its first kind's (the "same content" limits may then
# refuse a repeat: docs/providers.md asks operators to get both approved).
FALLBACKS: dict[str, str] = {
    "family_emergency_repeat": "family_emergency",
    "coordinator_emergency_repeat": "coordinator_emergency",
    "drill_repeat": "drill",
}

# A kind written before notices existed (an old outbox row): only Twilio and the console can send it.
FREE_TEXT = "text"


@dataclass(frozen=True, slots=True)
class Notice:
    """An SMS to send: its kind, its variables, and the same rendered from our catalogue (for Twilio)."""

    kind: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def channel(self) -> Literal["sms"]:
        return "sms"


@dataclass(frozen=True, slots=True)
class VoiceScript:
    """A call to place: what it says (kind and variables, `text` for Twilio) and the key that acknowledges it."""

    kind: str
    params: dict[str, str] = field(default_factory=dict)
    text: str = ""
    ack_key: str | None = "1"

    @property
    def channel(self) -> Literal["voice"]:
        return "voice"


@dataclass(frozen=True, slots=True)
class Callbacks:
    """Where a provider reports back, as each needs it.

    `status` and `script` are Twilio's (StatusCallback, and the TwiML of a call); `reference` is our outbox row's
    id, which the domestic providers echo back (Aliyun OutId, Tencent SessionContext) so a receipt finds its row
    even before the send's answer (and its id) came back."""

    status: str | None = None
    script: str | None = None
    reference: str | None = None


def variables_of(channel: str, kind: str) -> tuple[str, ...]:
    """The variables `kind` may fill on `channel`; KeyError for a kind that does not exist."""
    return KINDS[(channel, kind)]
