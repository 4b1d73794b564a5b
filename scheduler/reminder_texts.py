"""The wording of reminders and overdue notices (zh_CN, en). Elder and volunteer names are HTML-escaped here."""

from __future__ import annotations

from datetime import date
from html import escape

from carevisit.storage.enums import VisitMode

CATALOGUE: dict[str, dict[str, str]] = {
    "zh_CN": {
        "digest.title": "📋 <b>探访提醒</b>（{day}）",
        "digest.overdue": "<b>已逾期 {n} 项：</b>",
        "digest.due": "<b>即将到期 {n} 项：</b>",
        "digest.line": "• {name} — {mode} — 截止 {until}",
        "digest.extra": "（加访：{reason}）",
        "digest.footer": "完成后请在机器人中确认探访。",
        "digest.open": "📋 打开我的探访",
        "overdue.title": "⚠️ <b>逾期探访</b>（{day}）：{n} 项",
        "overdue.line": "• {name}（{community}）— {mode} — 截止 {until} — {volunteer}",
        "overdue.unassigned": "未分配",
        "assigned.title": "🆕 <b>新派给您的探访</b>",
        "assigned.line": "• {name} — {mode} — 截止 {until}",
        "more": "……另有 {n} 项",
        "date": "{month}月{day}日",
        "mode.home": "上门",
        "mode.phone": "电话",
        "mode.video": "视频",
        "mode.remote": "远程监测",
    },
    "en": {
        "digest.title": "📋 <b>Visit reminder</b> ({day})",
        "digest.overdue": "<b>Overdue ({n}):</b>",
        "digest.due": "<b>Due soon ({n}):</b>",
        "digest.line": "• {name} — {mode} — by {until}",
        "digest.extra": " (extra: {reason})",
        "digest.footer": "Please confirm each visit in the bot once done.",
        "digest.open": "📋 Open my visits",
        "overdue.title": "⚠️ <b>Overdue visits</b> ({day}): {n}",
        "overdue.line": "• {name} ({community}) — {mode} — by {until} — {volunteer}",
        "overdue.unassigned": "unassigned",
        "assigned.title": "🆕 <b>A visit for you</b>",
        "assigned.line": "• {name} — {mode} — by {until}",
        "more": "…and {n} more",
        "date": "{day} {month_name}",
        "mode.home": "home visit",
        "mode.phone": "phone call",
        "mode.video": "video call",
        "mode.remote": "remote monitoring",
    },
}

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_LINES = 30  # a Telegram message holds 4096 characters


def language_or_default(language: str | None, default: str) -> str:
    return language if language in CATALOGUE else default


def t(language: str, key: str, **values: object) -> str:
    return CATALOGUE[language][key].format(**values)


def day_text(language: str, day: date) -> str:
    return t(language, "date", month=day.month, day=day.day, month_name=_MONTH_NAMES[day.month - 1])


def mode_text(language: str, mode: VisitMode) -> str:
    return t(language, f"mode.{mode.value}")


def name(text: str) -> str:
    return escape(text, quote=False)
