"""Codes read as words: every status, category, kind, channel and timeline step the dashboard (and the CLI)
shows goes through here, in the configured language (Chinese first). Words live in `display_texts` (`show.`)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from carevisit.escalation.pager import not_really_sent
from carevisit.escalation.timeline import Entry
from carevisit.storage.enums import ElderClass

Translate = Callable[[str], str]


def label(t: Translate, kind: str, value: Any) -> str:
    """`label(t, "problem_category", "home_safety")` → 居家安全. An unknown code shows the kind's word for
    "other" if it has one, else the code itself (better a code than a blank)."""
    if value is None or value == "":
        return ""
    if kind == "elder_class":
        return classes(t, int(value))
    code = value.value if isinstance(value, Enum) else str(value)
    key = f"show.{kind}.{code}"
    text = t(key)
    if text != key:
        return text
    fallback = f"show.{kind}.other"
    return t(fallback) if t(fallback) != fallback else code


def classes(t: Translate, bits: int) -> str:
    """An elder's classes (a bit set) as words joined by 、."""
    names = [member.name.lower() for member in ElderClass if member.name and bits & member]
    return t("show.list_and").join(t(f"show.elder_class.{name}") for name in names) or t("show.none")


def incident_kind(t: Translate, kind: str, *, drill: bool) -> str:
    """跌倒, or 演练 for a drill (a drill's kind is "drill" already; say it once)."""
    text = label(t, "incident_kind", kind)
    if drill and kind != "drill":
        return _fill(t("show.kind_drill"), kind=text)
    return text


def actor(t: Translate, described: str | None) -> str:
    """Who did something, as `describe_actor` gave it: a name stays; the machine's own actors read as words, and
    a reference to someone since removed ("contact:9") is never shown as the code it is."""
    if not described or described == "system":
        return t("show.system")
    if described in ("cli", "dashboard", "demo"):
        return t(f"show.actor.{described}")
    kind, colon, _ = described.partition(":")
    if colon and kind.isascii() and kind.isalpha():
        return t("show.actor.unknown")
    return described


def step_sentence(t: Translate, entry: Entry) -> str:
    """One timeline step as a sentence: "短信通知王芳（女儿） 138****5678：已送达"."""
    who = actor(t, entry.who)
    channel = label(t, "channel", entry.channel)
    if entry.event == "opened":
        kind = incident_kind(t, str(entry.facts.get("kind", "")), drill=bool(entry.facts.get("drill")))
        description = str(entry.facts.get("description") or "")
        what = _fill(t("show.kind_description"), kind=kind, description=description) if description else kind
        reported = entry.who and entry.who != "system"
        return _fill(t("show.step.opened" if reported else "show.step.opened_nobody"), who=who, what=what)
    if entry.event == "queued":
        key = "show.step.queued" if entry.step is not None else "show.step.queued_nostep"
        text = _fill(
            t(key), step=entry.step, purpose=label(t, "purpose", entry.purpose), channel=channel, who=who, to=entry.to
        )
        return text + (t("show.step.throttled") if entry.facts.get("throttled") else "")
    if entry.event == "status":
        # A page the console pager only logged reached nobody: never "sent" on screen.
        status = (
            t("show.delivery_status.not_sent")
            if not_really_sent(entry.sid)
            else label(t, "delivery_status", entry.status)
        )
        error = _send_error(t, str(entry.facts.get("error") or ""))
        text = _fill(t("show.step.status"), channel=channel, who=f"{who} {entry.to}".strip(), status=status)
        return _fill(t("show.with_reason"), text=text, reason=error) if error else text
    if entry.event == "chat":
        return _fill(t("show.step.chat"), step=entry.step, who=who, status=label(t, "delivery_status", entry.status))
    if entry.event == "acknowledged":
        return _fill(t("show.step.acknowledged"), who=who, channel=label(t, "channel", entry.channel))
    if entry.event == "note":
        parts = [
            _fill(t("show.labelled"), label=t(f"show.note.{name}"), value=_unpunctuated(str(value)))
            for name, value in entry.facts.items()
            if value
        ]
        return _fill(t("show.step.note"), who=who, detail=t("show.list_sep").join(parts))
    if entry.event == "resolved":
        return _fill(t("show.step.resolved"), who=who)
    if entry.event == "audit" and entry.what == "incident.page":
        return _page_sentence(t, entry.facts)
    if entry.event == "audit" and entry.what == "incident.limits":
        return _limits_sentence(t, entry.facts)
    if entry.event == "audit" and entry.what == "incident.ack_code_late":
        return _fill(t("show.step.ack_code_late"), who=who)
    return t("show.step.other")


def _limits_sentence(t: Translate, facts: dict[str, Any]) -> str:
    """The pages the provider's limits would refuse if nobody acknowledges (recorded when the incident opened)."""
    parts = []
    for refusal in facts.get("refusals") or []:
        target = str(refusal.get("target", ""))
        who = (
            t("show.limits.coordinators")
            if target == "coordinators"
            else _fill(t("show.limits.contact"), n=target.partition(":")[2])
        )
        parts.append(
            _fill(
                t("show.limits.page"),
                step=refusal.get("step"),
                round=refusal.get("round"),
                channel=label(t, "channel", refusal.get("channel")),
                who=who,
            )
        )
    return _fill(t("show.step.limits"), pages=t("show.list_sep").join(parts))


def _send_error(t: Translate, error: str) -> str:
    """Why a page failed, in words when carevisit knows the reason ("limit …" → 超出…频率限制); a provider's own
    code otherwise, which support can look up."""
    code = error.split(" ", 1)[0]
    key = f"show.send_error.{code}"
    worded = t(key)
    return worded if code and worded != key else error


# What a sentence may end with: a typed record's own full stop would stand before our separator ("。；").
_CLOSING = "。．.；;，,、！!？? \t\n"


def _unpunctuated(value: str) -> str:
    """A typed part of a record without its closing punctuation: the sentence's own separator joins the parts."""
    return value.strip().rstrip(_CLOSING) or value.strip()


def _page_sentence(t: Translate, facts: dict[str, Any]) -> str:
    """ "第1步开始通知N人": N counts people, not channels. A page is "kind:id:channel" (engine.py), so one contact
    reached by SMS and by a call is one person."""
    key = "show.step.page_repeat" if facts.get("repeat") else "show.step.page"
    people = {str(page).rpartition(":")[0] or str(page) for page in facts.get("pages") or []}
    text = _fill(t(key), step=facts.get("step", ""), count=len(people))
    skipped = len(facts.get("skipped") or [])
    return text + (_fill(t("show.step.page_skipped"), skipped=skipped) if skipped else "")


def _fill(template: str, **values: Any) -> str:
    return template.format(**{name: "" if value is None else value for name, value in values.items()})


def local_time(moment: Any, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC moment as the coordinator's wall-clock time."""
    return moment.astimezone(zone).strftime(fmt) if moment else ""


def shown_filter(t: Translate) -> Callable[[Any, str], str]:
    """The jinja filter: `{{ problem.category|shown('problem_category') }}`."""
    return lambda value, kind: label(t, kind, value)
