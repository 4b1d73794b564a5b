"""What every volunteer service needs to know about the programme, built once by the entry point."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from carevisit.care.clock import Clock
from carevisit.care.confirmations import DEFAULT_CHECKLIST, ChecklistItem
from carevisit.escalation.policy import EscalationPolicy


@dataclass(frozen=True, slots=True)
class FieldContext:
    clock: Clock
    zone: ZoneInfo
    policy: EscalationPolicy
    language: str  # the service default, "zh_CN" or "en": for people who chose none
    checklist: tuple[ChecklistItem, ...] = DEFAULT_CHECKLIST
    public_url: str | None = None  # base for links in notices; None: notices carry no link
    # Emergencies raised are drills (Incident.is_drill): the demo's, where a tap on 🆘 must not read as a real one.
    drill: bool = False
