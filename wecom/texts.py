"""What the WeCom app says to members, Chinese first (English when the person or the service is set to it)."""

from __future__ import annotations

import html

_TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "linked_volunteer": "绑定成功：{name}。探访提醒和紧急情况进展会发到企业微信。",
        "linked_coordinator": "绑定成功：{name}（协调员）。紧急情况会以卡片发给您，点“确认处理”即可确认。",
        "invalid": "邀请码无效或已使用。请向协调员索取新的邀请码。",
        "expired": "邀请码已过期。请向协调员索取新的邀请码。",
        "taken": "此人员已绑定另一个企业微信账号。如需更换，请联系协调员。",
        "help": "您好！请把协调员给您的邀请码发到这里，完成绑定。",
    },
    "en": {
        "linked_volunteer": "Linked: {name}. Visit reminders and emergency updates will come to WeCom.",
        "linked_coordinator": "Linked: {name} (coordinator). Emergencies come to you as cards: tap Acknowledge.",
        "invalid": "This invitation code is not valid or was used already. Ask your coordinator for a new one.",
        "expired": "This invitation code has expired. Ask your coordinator for a new one.",
        "taken": "This person is already linked to another WeCom account. Ask your coordinator to change it.",
        "help": "Hello! Send the invitation code your coordinator gave you here to link your account.",
    },
}


def language_of(*preferences: str | None) -> str:
    """The first preference we have texts for; Chinese otherwise."""
    for language in preferences:
        if language and language in _TEXTS:
            return language
        if language and language.split("_")[0].split("-")[0] == "en":
            return "en"
    return "zh_CN"


def text(language: str, key: str, **values: str) -> str:
    """The message as chat HTML: the values (names people typed into the roster) escaped."""
    template = _TEXTS[language_of(language)][key]
    return template.format(**{name: html.escape(value, quote=False) for name, value in values.items()})
