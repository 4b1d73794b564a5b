"""Every word the dashboard shows, per language (zh_CN default, en)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "title": "探访关爱服务 工作台",
        "login": "登录",
        "logout": "退出",
        "username": "用户名",
        "password": "密码",
        "login_failed": "用户名或密码不正确。",
        "overview": "概览",
        "month_rate": "本月探访率",
        "late_confirmations": "{month} 的探访今天内仍可补确认（计入 {month}），数据自 {final} 起为最终数据。",
        "eligible": "应探访老人",
        "visited": "已探访",
        "area": "区域",
        "rate": "探访率",
        "overdue": "逾期探访",
        "unassigned": "待分配探访",
        "problems": "问题与转介",
        "incidents": "紧急事件",
        "elder": "老人",
        "address": "地址",
        "window": "探访时段",
        "mode": "方式",
        "volunteer": "志愿者",
        "category": "类别",
        "description": "描述",
        "status": "状态",
        "urgent": "紧急",
        "reported_at": "报告时间",
        "opened_at": "发生时间",
        "acknowledged": "已确认",
        "resolved": "已处置",
        "open": "待处理",
        "none": "暂无。",
        "close_problem": "办结",
        "refer_problem": "转介",
        "resolution": "处理结果",
        "referred_to": "转介至",
        "save": "保存",
        "problem_closed": "该问题已办结。",
        "problem_not_found": "找不到该问题。",
        "resolution_required": "办结需填写处理结果。",
        "forbidden": "无权访问。",
        "bad_request": "请求无效，请刷新页面后重试。",
        "unassigned_hint": "以下探访无人可派，请增加志愿者或调整服务社区。",
        "home": "上门",
        "phone": "电话",
        "video": "视频",
        "remote": "远程监测",
        "kind": "类型",
        "timeline": "处置记录",
        "month": "月份",
        "show": "查看",
        "planning": "加访与派单",
        "volunteers": "志愿者",
        "volunteer_id": "编号",
        "name": "姓名",
        "organisation": "所属机构",
        "communities": "服务社区",
        "capacity": "每月可接",
        "this_month": "本月已派/已完成",
        "bot_linked": "已绑定机器人",
        "yes": "是",
        "no": "否",
        "active": "在岗",
        "inactive": "已停用",
        "actions": "操作",
        "invite": "邀请绑定机器人",
        "deactivate": "停用",
        "reactivate": "恢复",
        "deactivate_confirm": "停用后，该志愿者未完成的探访将改派给同社区的其他志愿者。确定停用？",
        "invite_link": "请把这个链接发给志愿者 {who}，在手机上打开即可绑定。"
        "链接只能用一次，{until} 前有效，本页关闭后不再显示：",
        "invite_command": "机器人用户名未知。请志愿者 {who} 在机器人对话中发送下面这条命令完成绑定"
        "（只能用一次，{until} 前有效，本页关闭后不再显示）：",
        "deactivated": "已停用志愿者 {who}：其探访已改派 {n} 项，仍未分配 {u} 项。",
        "reactivated": "已恢复志愿者 {who}。",
        "already_inactive": "志愿者 {who} 已是停用状态。",
        "already_active": "志愿者 {who} 已在岗。",
        "inactive_cannot_invite": "停用的志愿者不能绑定，请先恢复。",
        "volunteer_not_found": "找不到该志愿者。",
        "viewer_cannot_act": "只读账号不能操作。",
    },
    "en": {
        "title": "Care visits — coordinator desk",
        "login": "Sign in",
        "logout": "Sign out",
        "username": "Username",
        "password": "Password",
        "login_failed": "Wrong username or password.",
        "overview": "Overview",
        "month_rate": "Visit rate this month",
        "late_confirmations": "Visits of {month} can still be confirmed today (they count in {month}); its figures "
        "are final from {final}.",
        "eligible": "Elders to visit",
        "visited": "Visited",
        "area": "Area",
        "rate": "Visit rate",
        "overdue": "Overdue visits",
        "unassigned": "Unassigned visits",
        "problems": "Problems and referrals",
        "incidents": "Emergencies",
        "elder": "Elder",
        "address": "Address",
        "window": "Window",
        "mode": "Mode",
        "volunteer": "Volunteer",
        "category": "Category",
        "description": "Description",
        "status": "Status",
        "urgent": "Urgent",
        "reported_at": "Reported",
        "opened_at": "Opened",
        "acknowledged": "Acknowledged",
        "resolved": "Resolved",
        "open": "Open",
        "none": "Nothing here.",
        "close_problem": "Close",
        "refer_problem": "Refer",
        "resolution": "Resolution",
        "referred_to": "Referred to",
        "save": "Save",
        "problem_closed": "That problem is already closed.",
        "problem_not_found": "No such problem.",
        "resolution_required": "Closing needs a resolution.",
        "forbidden": "Not allowed.",
        "bad_request": "Invalid request; reload the page and try again.",
        "unassigned_hint": "Nobody can take these visits: add volunteers or widen the communities they serve.",
        "home": "Home visit",
        "phone": "Phone",
        "video": "Video",
        "remote": "Remote monitoring",
        "kind": "Kind",
        "timeline": "Handling record",
        "month": "Month",
        "show": "Show",
        "planning": "Extra visits",
        "volunteers": "Volunteers",
        "volunteer_id": "Roster id",
        "name": "Name",
        "organisation": "Organisation",
        "communities": "Communities",
        "capacity": "Visits a month",
        "this_month": "This month assigned/done",
        "bot_linked": "Linked to the bot",
        "yes": "yes",
        "no": "no",
        "active": "active",
        "inactive": "inactive",
        "actions": "Actions",
        "invite": "Invite to the bot",
        "deactivate": "Deactivate",
        "reactivate": "Reactivate",
        "deactivate_confirm": "Their open visits will go to other volunteers of the same communities. Deactivate?",
        "invite_link": "Send this link to volunteer {who}; opening it on their phone links their account. It works "
        "once, until {until}, and is not shown again after you leave this page:",
        "invite_command": "The bot's username is unknown. Ask volunteer {who} to send this command in the chat with "
        "the bot (it works once, until {until}, and is not shown again after you leave this page):",
        "deactivated": "Volunteer {who} deactivated: {n} of their visits reassigned, {u} still unassigned.",
        "reactivated": "Volunteer {who} is active again.",
        "already_inactive": "Volunteer {who} is already inactive.",
        "already_active": "Volunteer {who} is already active.",
        "inactive_cannot_invite": "An inactive volunteer cannot be linked; reactivate them first.",
        "volunteer_not_found": "No such volunteer.",
        "viewer_cannot_act": "A read-only account cannot do this.",
    },
}


def _catalogues() -> list[dict[str, dict[str, str]]]:
    # Each group of pages keeps its words in its own module (prefixed keys); one lookup serves them all.
    from carevisit.dashboard import account_texts, app_link_texts, display_texts, people_texts, report_texts

    return [
        TEXTS,
        account_texts.TEXTS,
        people_texts.TEXTS,
        report_texts.TEXTS,
        display_texts.TEXTS,
        app_link_texts.TEXTS,
    ]


def _merged(language: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for catalogue in _catalogues():
        merged.update(catalogue.get("zh_CN", {}))
        merged.update(catalogue.get(language, {}))
    return merged


_TABLES: dict[str, dict[str, str]] = {}


def translator(language: str):  # type: ignore[no-untyped-def]
    """Chinese first: a key missing in English falls back to Chinese, an unknown key shows itself."""
    if language not in _TABLES:
        _TABLES[language] = _merged(language if language in TEXTS else "zh_CN")
    table = _TABLES[language]
    return lambda key: table.get(key, key)
