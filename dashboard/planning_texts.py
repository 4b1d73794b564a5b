"""Words of the planning pages (extra visits, reassignment), per language."""

from __future__ import annotations

from collections.abc import Callable

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "planning": "加访与派单",
        "extra_heading": "安排加访",
        "extra_hint": "出院、丧亲、跌倒后，或高温、寒潮、节日期间，为一位老人或某区域内某类老人安排限时探访。",
        "elder_id": "老人编号",
        "or_area": "或 区域代码",
        "classes": "老人类别（不选为全部）",
        "within_hours": "限时（小时）",
        "reason": "原因",
        "mode": "方式",
        "order": "安排",
        "reassign_heading": "重新派单",
        "reassign_hint": "为本月未分配的探访、以及已停用志愿者的探访重新安排志愿者。",
        "reassign": "重新派单",
        "ordered": "已安排加访 {n} 项（未分配 {u} 项），跳过不符合条件 {s} 位、已安排 {a} 位。",
        "reassigned": "已重新派单 {n} 项，仍未分配 {u} 项。",
        "viewer_only": "只读账号不能安排探访。",
        "bad_input": "输入有误：{why}",
        "class.alone": "独居",
        "class.empty_nest": "空巢",
        "class.left_behind": "留守",
        "class.disabled": "失能",
        "class.severely_handicapped": "重残",
        "class.bereaved_one_child": "计划生育特殊家庭",
        "class.advanced_age": "高龄",
        "home": "上门",
        "phone": "电话",
        "video": "视频",
        "remote": "远程监测",
    },
    "en": {
        "planning": "Extra visits and assignment",
        "extra_heading": "Order extra visits",
        "extra_hint": "After a discharge, a bereavement or a fall, or in a heat wave, cold snap or festival: a visit "
        "with a deadline for one elder, or for every elder of some classes in an area.",
        "elder_id": "Elder roster id",
        "or_area": "or area code",
        "classes": "Classes (none ticked: all)",
        "within_hours": "Within (hours)",
        "reason": "Reason",
        "mode": "Mode",
        "order": "Order",
        "reassign_heading": "Reassign",
        "reassign_hint": "Give this month's unassigned visits, and those of deactivated volunteers, a volunteer.",
        "reassign": "Reassign",
        "ordered": "Ordered {n} extra visits ({u} unassigned); skipped {s} not eligible, {a} already ordered.",
        "reassigned": "Reassigned {n} visits; {u} still unassigned.",
        "viewer_only": "A read-only account cannot order visits.",
        "bad_input": "Not done: {why}",
        "class.alone": "living alone",
        "class.empty_nest": "empty nest",
        "class.left_behind": "left behind",
        "class.disabled": "disabled",
        "class.severely_handicapped": "severely handicapped",
        "class.bereaved_one_child": "bereaved one-child family",
        "class.advanced_age": "advanced age",
        "home": "home visit",
        "phone": "phone call",
        "video": "video call",
        "remote": "remote monitoring",
    },
}


def planning_translator(language: str) -> Callable[..., str]:
    table = TEXTS.get(language, TEXTS["zh_CN"])
    return lambda key, **values: table[key].format(**values) if values else table[key]
