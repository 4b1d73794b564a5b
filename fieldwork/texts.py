"""What coordinators are told about the field's news, in zh_CN (default) and en, without gettext: the bot's
catalogues are aiogram's, and the volunteer app and WeCom need the same words.

The wording is the bot's own (bot/locales/*/LC_MESSAGES/messages.po had it), so a coordinator reads the same notice
whichever channel brings it. User-supplied parts (names, addresses) are HTML-escaped here, the one place that
renders them.
"""

from __future__ import annotations

from html import escape

from carevisit.storage.enums import ProblemCategory
from carevisit.storage.models import Elder, Incident

_TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "new_incident": "新的紧急事件 #{id}：{name}（{address}）。如由您处理，请点击确认。",
        "new_incident_for_viewer": "新的紧急事件 #{id}：{name}（{address}）。特此告知：协调员正在处理。",
        "new_problem": "{name}有新问题：{category}。",
        "button_ack": "确认处理",
    },
    "en": {
        "new_incident": "New emergency #{id} for {name} ({address}). Acknowledge if you are handling it.",
        "new_incident_for_viewer": (
            "New emergency #{id} for {name} ({address}). For your information: the coordinators are handling it."
        ),
        "new_problem": "New problem for {name}: {category}.",
        "button_ack": "Acknowledge",
    },
}

_CATEGORIES: dict[str, dict[ProblemCategory, str]] = {
    "zh_CN": {
        ProblemCategory.HEALTH: "健康",
        ProblemCategory.HOME_SAFETY: "居家安全隐患",
        ProblemCategory.LIVING_DIFFICULTY: "生活困难",
        ProblemCategory.CARER_OBLIGATION: "赡养人未尽义务",
        ProblemCategory.LONELINESS: "孤独或情绪低落",
        ProblemCategory.INFECTIOUS: "疑似传染病症状",
        ProblemCategory.REFERRAL: "需要服务转介",
        ProblemCategory.OTHER: "其他",
    },
    "en": {
        ProblemCategory.HEALTH: "Health",
        ProblemCategory.HOME_SAFETY: "Safety hazard at home",
        ProblemCategory.LIVING_DIFFICULTY: "Difficulty in daily living",
        ProblemCategory.CARER_OBLIGATION: "Carer not meeting obligations",
        ProblemCategory.LONELINESS: "Loneliness or low mood",
        ProblemCategory.INFECTIOUS: "Suspected infectious symptoms",
        ProblemCategory.REFERRAL: "Needs a service referral",
        ProblemCategory.OTHER: "Other",
    },
}

LANGUAGES = tuple(_TEXTS)


def language_of(preferred: str | None, default: str) -> str:
    """The person's language when we have it, else the service default; Chinese when neither is known."""
    for candidate in (preferred, default):
        if candidate in _TEXTS:
            return candidate  # type: ignore[return-value]
        if candidate and candidate.lower().startswith("en"):
            return "en"
        if candidate and candidate.lower().startswith("zh"):
            return "zh_CN"
    return "zh_CN"


def category_label(language: str, category: ProblemCategory | str) -> str:
    return _CATEGORIES[language][ProblemCategory(category)]


def new_incident(language: str, incident: Incident, elder: Elder, *, viewer: bool = False) -> str:
    """A viewer (a read-only account) is told too, without being asked to act."""
    template = _TEXTS[language]["new_incident_for_viewer" if viewer else "new_incident"]
    return "🆘 " + template.format(id=incident.id, name=escape(elder.name), address=escape(elder.address))


def new_problem(language: str, category: ProblemCategory | str, elder: Elder, *, urgent: bool) -> str:
    text = _TEXTS[language]["new_problem"].format(name=escape(elder.name), category=category_label(language, category))
    return ("❗ " if urgent else "") + text


def button_ack(language: str) -> str:
    return _TEXTS[language]["button_ack"]
