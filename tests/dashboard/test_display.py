"""Codes read as words: every code the programme stores has a label in both languages, and each timeline step
becomes one sentence."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest

from carevisit.dashboard import display
from carevisit.dashboard.texts import translator
from carevisit.escalation.texts import _KINDS
from carevisit.escalation.timeline import Entry
from carevisit.storage import enums

KINDS: dict[str, type[StrEnum]] = {
    "problem_category": enums.ProblemCategory,
    "problem_status": enums.ProblemStatus,
    "incident_status": enums.IncidentStatus,
    "channel": enums.Channel,
    "delivery_status": enums.DeliveryStatus,
    "visit_mode": enums.VisitMode,
    "visit_status": enums.VisitStatus,
    "visit_kind": enums.VisitKind,
    "visit_outcome": enums.VisitOutcome,
    "risk": enums.RiskLevel,
    "elder_status": enums.ElderStatus,
    "gender": enums.Gender,
    "volunteer_kind": enums.VolunteerKind,
    "role": enums.CoordinatorRole,
    "area_level": enums.AreaLevel,
}
AT = datetime(2026, 3, 10, 1, 42, tzinfo=UTC)


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_stored_code_has_a_word_in_both_languages(language: str) -> None:
    t = translator(language)
    for kind, codes in KINDS.items():
        for code in codes:
            assert t(f"show.{kind}.{code.value}") != f"show.{kind}.{code.value}", (language, kind, code)
    for kind in _KINDS["zh_CN"]:  # the kinds of emergency a volunteer can report
        assert t(f"show.incident_kind.{kind}") != f"show.incident_kind.{kind}", kind
    for member in enums.ElderClass:
        assert not t(f"show.elder_class.{(member.name or '').lower()}").startswith("show."), member


@pytest.mark.parametrize(
    ("kind", "value", "zh", "en"),
    [
        ("problem_category", enums.ProblemCategory.HOME_SAFETY, "居家安全", "home safety"),
        ("problem_status", "in_progress", "处理中", "in progress"),
        ("channel", "sms", "短信", "SMS"),
        ("incident_kind", "fall", "跌倒", "a fall"),
        ("incident_kind", "something_new", "其他紧急情况", "another emergency"),  # a later kind reads as words
        ("visit_mode", enums.VisitMode.REMOTE, "远程监测", "remote monitoring"),
        (
            "elder_class",
            int(enums.ElderClass.ALONE | enums.ElderClass.ADVANCED_AGE),
            "独居、高龄",
            "living alone, advanced age",
        ),
        ("elder_class", 0, "无", "none"),
        ("risk", None, "", ""),
    ],
)
def test_a_code_reads_as_a_word(kind: str, value: object, zh: str, en: str) -> None:
    assert display.label(translator("zh_CN"), kind, value) == zh
    assert display.label(translator("en"), kind, value) == en


@pytest.mark.parametrize(
    ("entry", "zh"),
    [
        (
            Entry(
                AT, "opened", "张伟", event="opened", facts={"kind": "fall", "drill": False, "description": "在厨房"}
            ),
            "张伟报告跌倒：在厨房",
        ),
        (Entry(AT, "opened", "", event="opened", facts={"kind": "drill", "drill": True}), "系统记录演练"),
        (
            Entry(
                AT, "queued page step 2", "李娜（女儿）", "sms", event="queued", purpose="page", step=2, to="+86****78"
            ),
            "第2步：紧急通知，短信发给李娜（女儿） +86****78",
        ),
        (
            Entry(AT, "queued all_clear", "李娜（女儿）", "sms", event="queued", purpose="all_clear", to="+86****78"),
            "解除通知，短信发给李娜（女儿） +86****78",
        ),
        (
            Entry(AT, "status delivered", "李娜（女儿）", "sms", event="status", status="delivered", to="+86****78"),
            "短信通知李娜（女儿） +86****78：已送达",
        ),
        (
            Entry(
                AT,
                "status failed",
                "王强（儿子）",
                "voice",
                event="status",
                status="failed",
                to="+86****90",
                facts={"error": "21217"},
            ),
            "电话通知王强（儿子） +86****90：失败（21217）",
        ),
        (Entry(AT, "acknowledged", "李娜（女儿）", "link", event="acknowledged"), "李娜（女儿）确认收到（短信链接）"),
        (
            Entry(AT, "queued page step 1", "刘社工", "telegram", event="chat", step=1, status="sent"),
            "第1步：机器人消息通知刘社工（已发出）",
        ),
        (
            Entry(AT, "note", "张伟", event="note", facts={"what": "跌倒", "actions": "", "outcome": "已送医"}),
            "张伟写处置记录：经过：跌倒；结果：已送医",
        ),
        (
            Entry(AT, "note", "张伟", event="note", facts={"what": "跌倒。", "actions": "送医；", "outcome": "住院。"}),
            "张伟写处置记录：经过：跌倒；措施：送医；结果：住院",
        ),
        (
            Entry(
                AT,
                "incident.page",
                "system",
                event="audit",
                facts={"step": 1, "pages": ["contact:2:sms", "contact:2:voice", "coordinator:1:sms"]},
            ),
            "第1步开始通知2人",
        ),
        (Entry(AT, "resolved", "张伟", event="resolved"), "张伟结案"),
        (
            Entry(
                AT,
                "incident.page",
                "system",
                event="audit",
                facts={"step": 3, "repeat": True, "pages": ["coordinator:1:sms"], "skipped": ["contact:2"]},
            ),
            "第3步再次通知1人（重复提醒），1人无可用号码已跳过",
        ),
        (Entry(AT, "incident.mystery", "system", event="audit", facts={"x": 1}), "其他记录"),
        (Entry(AT, "resolved", "system", event="resolved"), "系统结案"),
        (Entry(AT, "resolved", "cli", event="resolved"), "命令行操作员结案"),
        (Entry(AT, "acknowledged", "contact:99", "sms", event="acknowledged"), "（已删除的人员）确认收到（短信）"),
        (
            Entry(AT, "opened", "system", event="opened", facts={"kind": "medical", "drill": False}),
            "系统记录身体不适",
        ),
    ],
)
def test_each_timeline_step_is_a_sentence_without_codes(entry: Entry, zh: str) -> None:
    assert display.step_sentence(translator("zh_CN"), entry) == zh
    english = display.step_sentence(translator("en"), entry)
    assert english and "_" not in english and "{" not in english
