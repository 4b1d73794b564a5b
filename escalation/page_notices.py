"""What a page says: its notice (a kind and variables, for approved templates, and our catalogue's text, for
Twilio), and which pages of a policy the provider's limits would refuse — the engine's words, apart from its
bookkeeping."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from carevisit.escalation import texts
from carevisit.escalation.decide import Page
from carevisit.escalation.notices import SMS, VOICE, Notice, VoiceScript, variables_of
from carevisit.escalation.policy import EscalationPolicy
from carevisit.escalation.provider_limits import Limits, policy_refusals
from carevisit.storage.enums import Channel


def page_notice(
    language: str,
    facts: texts.PageFacts,
    page: Page,
    *,
    n: int,
    round_: int,
    hhmm: str,
    link: str | None,
    code: str | None,
) -> Notice | VoiceScript:
    """What a page says, as a kind and variables (for approved templates) and as our catalogue's text (for Twilio).

    Even rounds use the kind's `_repeat` template, so repeated pages to one number are not the "same content" the
    domestic providers limit (Tencent: one per 30 s)."""
    if not facts.volunteer:  # an approved template has no way to leave its volunteer out: name who stands in
        facts = replace(facts, volunteer=texts.text(language, "staff_word"))
    coordinator = page.target.kind == "coordinator"
    kind = "drill" if facts.drill else "coordinator_emergency" if coordinator else "family_emergency"
    params = {
        "name": facts.elder,
        "what": texts.kind_label(language, facts.kind),
        "volunteer": facts.volunteer,
        "volunteer_phone": facts.volunteer_phone,
        "community": facts.community,
    }
    if page.channel == Channel.VOICE:
        return VoiceScript(kind, _only(params, VOICE, kind), texts.page_voice(language, facts))
    counted = round_ if coordinator else n
    params |= {"time": hhmm, "round": str(counted)}
    if code:
        params["code"] = code
    if round_ % 2 == 0:
        kind = f"{kind}_repeat"
    text = texts.page_sms(language, facts, n=n, hhmm=hhmm, link=link, round_=round_ if coordinator else None)
    return Notice(kind, _only(params, SMS, kind), text)


def _only(params: dict[str, str], channel: str, kind: str) -> dict[str, str]:
    allowed = variables_of(channel, kind)
    return {name: value for name, value in params.items() if name in allowed}


_REFUSALS: dict[tuple[str, str], list[dict[str, Any]]] = {}


def limit_refusals(policy: EscalationPolicy, limits: Limits) -> list[dict[str, Any]]:
    """The pages of an incident's frozen policy that the provider's limits would refuse if nobody acknowledges,
    for its timeline at its first step (coordinators then know the chain is thinner than the policy reads).
    Computed once per policy and limits."""
    if not (limits.of(Channel.SMS) or limits.of(Channel.VOICE)):
        return []
    key = (repr(policy), repr(limits))
    if key not in _REFUSALS:
        if len(_REFUSALS) > 64:
            _REFUSALS.clear()
        _REFUSALS[key] = [
            {"step": r.step, "round": r.round, "target": r.target, "channel": str(r.channel), "limit": r.limit}
            for r, _more in policy_refusals(policy, limits)
        ]
    return _REFUSALS[key]
