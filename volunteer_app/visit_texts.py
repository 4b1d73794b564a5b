"""Words of the volunteer app's visit, problem and photo pages: Chinese first, English when asked for.

A dict per language, as carevisit/escalation/texts.py keeps them; a missing English word falls back to Chinese, a
missing key shows the key (a test checks both catalogues have the same keys).
"""

from __future__ import annotations

from collections.abc import Callable

Words = Callable[..., str]

ZH = "zh_CN"
EN = "en"

TEXTS: dict[str, dict[str, str]] = {
    ZH: {
        "home.title": "我的探访",
        "home.sos": "🆘 紧急情况",
        "home.sos_hint": "老人有危险？点这里",
        "home.none": "现在没有要做的探访。",
        "home.emergency": "🆘 {name}的紧急情况正在处理：查看进度",
        "home.emergency_drill": "🆘 {name}的紧急情况演练正在进行：查看进度",
        "home.upcoming": "即将开始",
        "home.opens": "{date}起可以确认",
        "home.overdue": "已逾期",
        "home.report": "⚠️ 报告问题",
        "home.unplanned": "➕ 记录计划外探访",
        "home.more": "还有 {n} 次探访，请先完成上面的。",
        "window": "{start}–{end}",
        "date": "{month}月{day}日",
        "mode.home": "上门入户",
        "mode.phone": "电话",
        "mode.video": "视频",
        "mode.remote": "远程监测",
        "visit.ask_mode": "这次怎么探访{name}的？",
        "visit.ask_outcome": "{name}现在情况怎么样？",
        "visit.well": "✅ 一切正常",
        "visit.well_hint": "不用再填检查项",
        "visit.problem": "⚠️ 有问题",
        "visit.urgent": "🆘 紧急",
        "visit.urgent_hint": "马上通知家属和社区",
        "visit.sos": "🆘 紧急情况",
        "visit.report": "⚠️ 报告问题",
        "visit.back": "← 返回我的探访",
        "checklist.title": "哪些方面有问题？",
        "checklist.hint": "有问题的请点选，没问题的不用管。",
        "checklist.all_fine": "✅ 全部正常",
        "checklist.done": "完成",
        "checklist.contradiction": (
            "您勾选了有问题的方面，又点了“全部正常”。"
            "什么都没有记录，请返回，勾选后点“完成”；如果确实都正常，请先取消勾选。"
        ),
        "checklist.note": "补充说明（可不填）",
        "check.health": "身体不适或行动不便",
        "check.mood": "情绪低落、感到孤独",
        "check.family": "家人很少来往或联系",
        "check.home_safety": "水电气暖等有安全隐患",
        "check.care_needs": "有照护需求没有满足",
        "done.title": "已记录 ✅",
        "done.text": "{name}的探访已确认，谢谢您！",
        "done.already": "{name}的这次探访已经确认过了。",
        "done.problems": "已把 {n} 个问题转给社区工作人员。",
        "done.more": "还可以补充（可不填）：",
        "done.note": "备注",
        "done.photo": "📷 拍照",
        "done.location": "📍 记录位置",
        "done.location_ok": "位置已记录 ✅",
        "done.location_failed": "没能取得位置",
        "done.save": "保存",
        "done.kept": "已记下的内容",
        "done.photo_alt": "这次探访的照片",
        "done.saved": "已保存 ✅",
        "photo.uploading": "照片正在上传…",
        "photo.uploaded": "照片已上传 ✅",
        "photo.failed": "照片上传失败",
        "photo.retry": "重试",
        "photo.none_chosen": "还没有选照片",
        "photo.chosen": "已选好照片",
        "photo.wait": "照片还在上传，请稍等",
        "photo.too_big": "照片太大了（最多 {mb} MB）",
        "photo.not_image": "只能上传照片",
        "unplanned.title": "计划外探访",
        "unplanned.pick": "探访了哪位老人？",
        "unplanned.search": "按姓名找",
        "unplanned.find": "查找",
        "unplanned.none": "没有找到老人。",
        "problem.title": "报告问题",
        "problem.elder": "哪位老人？",
        "problem.mine": "您本月负责探访的老人",
        "problem.others": "社区里的其他老人",
        "problem.category": "什么问题？",
        "problem.text": "请说明情况",
        "problem.photo": "📷 拍照（可不拍）",
        "problem.urgent": "紧急，需要马上处理",
        "problem.send": "提交",
        "problem.sent_title": "已报告 ✅",
        "problem.sent": "问题已转给社区工作人员。",
        "problem.need_text": "请写几句说明情况。",
        "category.health": "健康",
        "category.home_safety": "居家安全",
        "category.living_difficulty": "生活困难",
        "category.carer_obligation": "赡养人未尽责",
        "category.loneliness": "孤独、情绪",
        "category.infectious": "传染病",
        "category.referral": "需要转介服务",
        "category.other": "其他",
        "error.not_found_title": "找不到",
        "error.not_found": "没有找到这个页面，或者它不属于您。",
        "error.closed_title": "不能再确认",
        "error.closed": "这次探访已经取消或过了确认时间，不能再确认。",
        "error.bad_title": "请重新选择",
        "error.bad": "提交的内容不对，什么也没有改。请返回重新选择。",
    },
    EN: {
        "home.title": "My visits",
        "home.sos": "🆘 Emergency",
        "home.sos_hint": "Is an elder in danger? Tap here",
        "home.none": "No visits to make right now.",
        "home.emergency": "🆘 {name}'s emergency is being handled: see how it goes",
        "home.emergency_drill": "🆘 {name}'s emergency drill is under way: see how it goes",
        "home.upcoming": "Coming up",
        "home.opens": "can be confirmed from {date}",
        "home.overdue": "Overdue",
        "home.report": "⚠️ Report a problem",
        "home.unplanned": "➕ Log an unplanned visit",
        "home.more": "{n} more visits: please do the ones above first.",
        "window": "{start} – {end}",
        "date": "{day}/{month}",
        "mode.home": "Home visit",
        "mode.phone": "Phone",
        "mode.video": "Video",
        "mode.remote": "Remote monitoring",
        "visit.ask_mode": "How did you visit {name}?",
        "visit.ask_outcome": "How is {name}?",
        "visit.well": "✅ All is well",
        "visit.well_hint": "no checklist needed",
        "visit.problem": "⚠️ Something is wrong",
        "visit.urgent": "🆘 Emergency",
        "visit.urgent_hint": "alerts the family and the community now",
        "visit.sos": "🆘 Emergency",
        "visit.report": "⚠️ Report a problem",
        "visit.back": "← Back to my visits",
        "checklist.title": "What is wrong?",
        "checklist.hint": "Tap what is wrong; leave the rest.",
        "checklist.all_fine": "✅ All fine",
        "checklist.done": "Done",
        "checklist.contradiction": (
            "You ticked concerns and also tapped “All fine”. Nothing was recorded: go back and "
            "tap “Done” to record what you ticked, or untick them first if all is fine."
        ),
        "checklist.note": "Anything to add (optional)",
        "check.health": "Unwell or hard to move about",
        "check.mood": "Low or lonely",
        "check.family": "Family rarely visit or call",
        "check.home_safety": "Unsafe water, power, gas or heating",
        "check.care_needs": "Care needs not met",
        "done.title": "Saved ✅",
        "done.text": "The visit to {name} is confirmed. Thank you!",
        "done.already": "This visit to {name} was confirmed already.",
        "done.problems": "{n} problems passed to the community staff.",
        "done.more": "You may add (optional):",
        "done.note": "Note",
        "done.photo": "📷 Photo",
        "done.location": "📍 Record location",
        "done.location_ok": "Location recorded ✅",
        "done.location_failed": "Could not get the location",
        "done.save": "Save",
        "done.kept": "What is kept",
        "done.photo_alt": "This visit's photo",
        "done.saved": "Saved ✅",
        "photo.uploading": "Uploading the photo…",
        "photo.uploaded": "Photo uploaded ✅",
        "photo.failed": "The photo did not upload",
        "photo.retry": "Try again",
        "photo.none_chosen": "No photo chosen yet",
        "photo.chosen": "Photo chosen",
        "photo.wait": "The photo is still uploading, please wait",
        "photo.too_big": "The photo is too large (at most {mb} MB)",
        "photo.not_image": "Only photos can be uploaded",
        "unplanned.title": "Unplanned visit",
        "unplanned.pick": "Whom did you visit?",
        "unplanned.search": "Find by name",
        "unplanned.find": "Find",
        "unplanned.none": "No elder found.",
        "problem.title": "Report a problem",
        "problem.elder": "Which elder?",
        "problem.mine": "Elders you visit this month",
        "problem.others": "Other elders of your communities",
        "problem.category": "What kind of problem?",
        "problem.text": "What is the matter?",
        "problem.photo": "📷 Photo (optional)",
        "problem.urgent": "Urgent: needs handling now",
        "problem.send": "Send",
        "problem.sent_title": "Reported ✅",
        "problem.sent": "The problem is passed to the community staff.",
        "problem.need_text": "Please write a few words about it.",
        "category.health": "Health",
        "category.home_safety": "Home safety",
        "category.living_difficulty": "Hardship",
        "category.carer_obligation": "Carer not doing their part",
        "category.loneliness": "Loneliness, mood",
        "category.infectious": "Infectious disease",
        "category.referral": "Needs a service referral",
        "category.other": "Other",
        "error.not_found_title": "Not found",
        "error.not_found": "This page does not exist, or it is not yours.",
        "error.closed_title": "Can no longer be confirmed",
        "error.closed": "This visit was cancelled or its time to confirm is over.",
        "error.bad_title": "Please choose again",
        "error.bad": "What was sent is not right; nothing was changed. Please go back and choose again.",
    },
}


def language_of(chosen: str | None, default: str) -> str:
    """The volunteer's language if they chose one, else the service's: "en…" is English, anything else Chinese."""
    language = (chosen or default or ZH).lower()
    return EN if language.startswith("en") else ZH


def translator(catalogue: dict[str, dict[str, str]], language: str) -> Words:
    """`w("key", name=...)`: the word in `language`, filled with the keyword values."""
    own, fallback = catalogue.get(language, {}), catalogue[ZH]

    def w(key: str, **values: object) -> str:
        text = own.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return w


def words(language: str) -> Words:
    return translator(TEXTS, language)
