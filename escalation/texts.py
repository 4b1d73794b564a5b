"""Every word escalation sends, in zh_CN (default) and en: fixed templates with a few variables.

SMS to mainland China must match pre-approved templates, so wording changes go through here only. No health
details by SMS or voice: the kind of emergency, who is there and how to acknowledge. Pages carry their attempt
number (a coordinator's, its round) and time, so repeated pages to one number are never identical (China rejects
a third identical SMS in 24 h).
"""

from __future__ import annotations

from dataclasses import dataclass

_KINDS = {
    "zh_CN": {
        "medical": "身体不适",
        "fall": "跌倒",
        "fire": "火情",
        "police": "安全问题",
        "infectious": "疑似传染病",
        "drill": "演练",
        "other": "紧急情况",
    },
    "en": {
        "medical": "unwell",
        "fall": "a fall",
        "fire": "a fire",
        "police": "a safety problem",
        "infectious": "suspected infection",
        "drill": "a drill",
        "other": "an emergency",
    },
}

_TEXTS = {
    "zh_CN": {
        "page_sms": "{tag}{elder}{kind}，志愿者{volunteer}{vphone}在场。{notice}{hhmm}，点此确认收到：{link}",
        "page_sms_nolink": "{tag}{elder}{kind}，志愿者{volunteer}{vphone}在场。{notice}{hhmm}，回复1确认收到",
        "notice_page": "第{n}次通知",
        "notice_round": "第{round}轮通知",
        "page_voice": "{tag}您好，这里是探访关爱服务。{elder}{kind}，志愿者{volunteer}在场。确认收到请按1。",
        "voice_thanks": "已确认，谢谢。请尽快联系志愿者。",
        "voice_no_input": "未收到按键，稍后我们会再次联系。再见。",
        "sms_ack_reply": "已确认收到{elders}的紧急通知，谢谢。",
        "sms_ack_already": "此紧急通知已有人确认，谢谢。",
        "all_clear": "{tag}{elder}的紧急情况已处理完毕，感谢您的关注。",
        "family_visit": "【探访关爱】{date}志愿者{volunteer}已上门探访{elder}，{status}。回复退订停止接收",
        "family_digest": "【探访关爱】{month}月{elder}共接受探访{count}次，最近一次{date}。回复退订停止接收",
        "tag": "【探访关爱】",
        "staff_word": "社区工作人员",
        "drill_tag": "【演练，无需行动】",
        "status_well": "情况良好",
        "status_problem": "发现问题，社区已跟进",
        "status_urgent": "发现紧急情况，已处置",
        "reporter_paged": "🔔 紧急事件 #{incident}：已通知 {targets}（第{n}步）。",
        "reporter_repeat": "🔔 紧急事件 #{incident}：仍无人确认，已再次通知 {targets}（第{round}轮）。",
        "reporter_acked": "✅ 紧急事件 #{incident}：{who} 已确认收到（{channel}）。",
        "reporter_nobody": "⚠️ 紧急事件 #{incident}：没有可通知的紧急联系人，已转社区工作人员。",
        "coordinator_page": "🚨 {tag}{elder}（{community}）{kind}，志愿者{volunteer}{vphone}报告。"
        "{notice}，尚无人确认。确认：{link}",
        "ack_page_title": "确认收到紧急通知",
        "ack_page_body": "{elder}{kind}。请点击下方按钮，告诉志愿者您已收到。",
        "ack_button": "我已收到",
        "ack_done": "已确认，谢谢。志愿者会收到通知。",
        "ack_already": "已有人确认收到此事件（{at}），无需再次确认。",
        "ack_staff": "工作人员请登录管理后台查看详情",
        "ack_invalid": "链接无效或已过期。",
        "channel_link": "链接",
        "channel_voice": "电话按键",
        "channel_sms": "短信回复",
        "channel_dashboard": "管理后台",
        "channel_telegram": "机器人",
        "channel_cli": "命令行",
        "channel_code": "确认码",
        "channel_wecom": "企业微信",
        "code_prompt": "请输入短信中的6位确认码。",
        "code_label": "确认码",
        "code_submit": "下一步",
        "code_invalid": "确认码无效或已过期。",
        "code_locked": "输入错误次数过多，请于{at}后再试。",
        "code_busy": "当前尝试人数过多，请于{at}后再试，或接听来电按1确认。",
    },
    "en": {
        "page_sms": "{tag}{elder}: {kind}; volunteer {volunteer} {vphone} is there. {notice} {hhmm}. "
        "Acknowledge: {link}",
        "page_sms_nolink": "{tag}{elder}: {kind}; volunteer {volunteer} {vphone} is there. {notice} {hhmm}. Reply 1",
        "notice_page": "Page {n}",
        "notice_round": "Round {round}",
        "page_voice": "{tag}This is the care visit service. {elder}: {kind}. Volunteer {volunteer} is there. "
        "Press 1 to acknowledge.",
        "voice_thanks": "Acknowledged, thank you. Please contact the volunteer.",
        "voice_no_input": "No key pressed. We will call again. Goodbye.",
        "sms_ack_reply": "Acknowledged: the emergency concerning {elders}. Thank you.",
        "sms_ack_already": "Someone has already acknowledged this emergency. Thank you.",
        "all_clear": "{tag}The emergency concerning {elder} has been handled. Thank you.",
        "family_visit": "[Care visit] {date} volunteer {volunteer} visited {elder}: {status}. Reply STOP to opt out",
        "family_digest": "[Care visit] {month}: {elder} was visited {count} times, last on {date}. "
        "Reply STOP to opt out",
        "tag": "[Care visit] ",
        "staff_word": "community staff",
        "drill_tag": "[DRILL, no action needed] ",
        "status_well": "all well",
        "status_problem": "a problem was found; the community is following it up",
        "status_urgent": "an emergency was found and handled",
        "reporter_paged": "🔔 Emergency #{incident}: paged {targets} (step {n}).",
        "reporter_repeat": "🔔 Emergency #{incident}: still not acknowledged; paged {targets} again (round {round}).",
        "reporter_acked": "✅ Emergency #{incident}: {who} acknowledged ({channel}).",
        "reporter_nobody": "⚠️ Emergency #{incident}: no emergency contact to page; passed to the coordinators.",
        "coordinator_page": "🚨 {tag}{elder} ({community}): {kind}, reported by volunteer {volunteer} {vphone}. "
        "{notice}, not acknowledged yet. Acknowledge: {link}",
        "ack_page_title": "Acknowledge the emergency alert",
        "ack_page_body": "{elder}: {kind}. Press the button to tell the volunteer you have it.",
        "ack_button": "I have it",
        "ack_done": "Acknowledged, thank you. The volunteer will be told.",
        "ack_already": "Someone already acknowledged this ({at}); nothing more to do.",
        "ack_staff": "Staff: sign in to the dashboard for details",
        "ack_invalid": "This link is not valid or has expired.",
        "channel_link": "link",
        "channel_voice": "keypress",
        "channel_sms": "SMS reply",
        "channel_dashboard": "dashboard",
        "channel_telegram": "bot",
        "channel_cli": "command line",
        "channel_code": "code",
        "channel_wecom": "WeCom",
        "code_prompt": "Enter the 6-digit code from the SMS.",
        "code_label": "Code",
        "code_submit": "Next",
        "code_invalid": "This code is not valid or has expired.",
        "code_locked": "Too many wrong codes. Please try again after {at}.",
        "code_busy": "Too many attempts right now. Please try again after {at}, or answer our call and press 1.",
    },
}

LANGUAGES = tuple(_TEXTS)


def language_of(preferred: str | None, default: str) -> str:
    for candidate in (preferred, default):
        if candidate in _TEXTS:
            return candidate  # type: ignore[return-value]
        if candidate and candidate.startswith("en"):
            return "en"
        if candidate and candidate.startswith("zh"):
            return "zh_CN"
    return "zh_CN"


def text(language: str, key: str, **values: object) -> str:
    return _TEXTS[language][key].format(**values)


def channel_label(language: str, channel: str) -> str:
    """How an acknowledgement came in, in the reader's words; the stored code if there is no label for it."""
    return _TEXTS[language].get(f"channel_{channel}", channel)


def kind_label(language: str, kind: str) -> str:
    labels = _KINDS[language]
    return labels.get(kind, labels["other"])


def tag(language: str, *, drill: bool) -> str:
    return text(language, "drill_tag" if drill else "tag")


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What a page may say: names and the kind of emergency, never the description."""

    elder: str
    kind: str
    volunteer: str
    volunteer_phone: str
    drill: bool
    community: str = ""


def page_sms(language: str, facts: PageFacts, *, n: int, hhmm: str, link: str | None, round_: int | None = None) -> str:
    """A contact's page counts the incident's pages (`n`); a coordinator's, given `round_`, its rounds: they are
    paged once a round, and "page 4" on their first would count pages that went to others."""
    values = _values(language, facts) | {"notice": _notice(language, n=n, round_=round_), "hhmm": hhmm}
    if link:
        return text(language, "page_sms", link=link, **values)
    return text(language, "page_sms_nolink", **values)


def page_voice(language: str, facts: PageFacts) -> str:
    return text(language, "page_voice", **_values(language, facts))


def coordinator_page(language: str, facts: PageFacts, *, round_: int, link: str) -> str:
    notice = text(language, "notice_round", round=round_)
    return text(
        language, "coordinator_page", notice=notice, link=link, community=facts.community, **_values(language, facts)
    )


def _notice(language: str, *, n: int, round_: int | None) -> str:
    return text(language, "notice_page", n=n) if round_ is None else text(language, "notice_round", round=round_)


def sms_ack_reply(language: str, elders: list[str]) -> str:
    """The confirmation of an SMS reply, naming every elder whose emergency it acknowledged."""
    return text(language, "sms_ack_reply", elders=("、" if language == "zh_CN" else ", ").join(elders))


def all_clear(language: str, *, elder: str, drill: bool) -> str:
    return text(language, "all_clear", tag=tag(language, drill=drill), elder=elder)


def _values(language: str, facts: PageFacts) -> dict[str, object]:
    return {
        "tag": tag(language, drill=facts.drill),
        "elder": facts.elder,
        "kind": kind_label(language, facts.kind),
        "volunteer": facts.volunteer,
        "vphone": facts.volunteer_phone,
    }


def sms_segments(body: str) -> int:
    """How many SMS segments `body` takes: UCS-2 (any Chinese) holds 70, or 67 per part when concatenated."""
    if all(ord(ch) < 128 for ch in body):
        return 1 if len(body) <= 160 else -(-len(body) // 153)
    return 1 if len(body) <= 70 else -(-len(body) // 67)
