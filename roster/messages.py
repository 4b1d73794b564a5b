"""What the importer tells a community worker, in zh_CN (the default, `CAREVISIT_LANGUAGE`) and en.

A problem names the spreadsheet row, the Excel column letter and the header as the file has it:
`第43行 H列（联系电话）：不是有效的电话号码 "62401246"（本地固话请加区号，如 010-62401246）`.

The cell parsers (`roster.fields`, `roster.rows`, `care.phones`) give their reasons in English, with the cell's value
quoted; the Chinese wording of each lives here, matched by the English one's shape, so no wording is scattered over
the parsers. A reason without a translation here is shown as written (in English) rather than lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from carevisit.roster.columns import column_letter
from carevisit.roster.problems import RosterFileError, RowProblem

LANGUAGES = ("zh_CN", "en")

_TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "problem": "第{row}行 {where}：{reason}",
        "in_sheet": "工作表“{sheet}” {line}",
        "note": "提示：{notice}",
        "more_notices": "……另有 {count} 条提示。",
        "sheet_rows": "工作表“{sheet}”：{rows} 行",
        "sheet_skipped": "跳过工作表“{sheet}”（{why}）",
        "skipped_row": "第{row}行（{why}）",
        "skipped_row_in_sheet": "{sheet} 第{row}行（{why}）",
        "list_separator": "，",
        "rows_skipped": "跳过 {count} 行（不是{kind}记录）：{listed}",
        "problem_no_column": "第{row}行：{reason}",
        "where": "{letter}列（{column}）",
        "more": "……另有 {count} 个问题未列出。",
        "summary": "{file} 有 {count} 个问题（共读取 {rows} 行）：没有写入任何数据。",
        "fix_and_retry": "请改正后重新导入。",
        "problems_file": "全部问题已写入 {path}（原始各行，最后一列为“问题”），可在 Excel 中逐行改正。",
        "file_problem": "{file}：{reason}",
        "nothing_written": "没有写入任何数据。",
        "no_such_file": "{file}：文件不存在",
        "imported": "已从 {file} 导入 {rows} 条{kind}记录：新增 {inserted}，更新 {updated}",
        "areas_created": "，新建地区 {count} 个",
        "organisations_created": "，新建组织 {count} 个",
        "end": "。",
        "elders": "老人",
        "volunteers": "志愿者",
        "dry_run_ok": "{file}：全部 {rows} 行{kind}记录有效（试运行：没有写入任何数据）。",
        "dry_run_would": "正式导入将新增 {inserted} 条、更新 {updated} 条{kind}记录。",
        "columns_title": "{file} 的各列（试运行）",
        "column": "列",
        "header": "表头",
        "understood_as": "对应字段",
        "ignored": "（不使用）",
        "ticked_class": "类别：打勾即为{klass}",
        "template_written": "已写入导入模板 {path}：填好后用 carevisit import {kind} {path} 导入。",
        "template_exists": "{path} 已存在；换一个文件名（--output），或用 --force 覆盖。",
    },
    "en": {
        "problem": "row {row}, {where}: {reason}",
        "in_sheet": "sheet {sheet!r}, {line}",
        "note": "note: {notice}",
        "more_notices": "… and {count} more notes.",
        "sheet_rows": "sheet {sheet!r}: {rows} rows",
        "sheet_skipped": "skipped sheet {sheet!r} ({why})",
        "skipped_row": "row {row} ({why})",
        "skipped_row_in_sheet": "{sheet} row {row} ({why})",
        "list_separator": ", ",
        "rows_skipped": "skipped {count} rows that are not {kind}: {listed}",
        "problem_no_column": "row {row}: {reason}",
        "where": "column {letter} ({column})",
        "more": "… and {count} more problems.",
        "summary": "{count} problem(s) in {file} ({rows} rows read): nothing was written.",
        "fix_and_retry": "Fix them and import the file again.",
        "problems_file": "Every problem is also in {path} (the rows as they were, with a 问题 column last), to fix "
        "them in Excel.",
        "file_problem": "{file}: {reason}",
        "nothing_written": "Nothing was written.",
        "no_such_file": "{file}: no such file",
        "imported": "Imported {rows} {kind} from {file}: {inserted} new, {updated} updated",
        "areas_created": ", {count} areas created",
        "organisations_created": ", {count} organisations created",
        "end": ".",
        "elders": "elders",
        "volunteers": "volunteers",
        "dry_run_ok": "{file}: all {rows} {kind} rows are valid (dry run: nothing written).",
        "dry_run_would": "Importing it would add {inserted} {kind} and update {updated}.",
        "columns_title": "How the columns of {file} are read (dry run)",
        "column": "column",
        "header": "header",
        "understood_as": "field",
        "ignored": "(not used)",
        "ticked_class": "classes: {klass} when ticked",
        "template_written": "Wrote the import template {path}: fill it in, then carevisit import {kind} {path}.",
        "template_exists": "{path} exists; choose another name (--output) or replace it with --force.",
    },
}

# The fields as a worker knows them, for the dry run's column table.
_FIELDS = {
    "zh_CN": {
        "id": "编号", "name": "姓名", "gender": "性别", "birth_date": "出生日期", "phone": "电话", "address": "地址",
        "province": "省", "city": "市", "district": "区县", "street": "街道", "community": "社区", "classes": "类别",
        "risk": "风险等级", "consent": "是否同意", "notes": "备注", "organization": "所属组织", "kind": "类型",
        "communities": "服务社区", "capacity": "每月上限", "area_code": "行政区划代码",
        "id_card": "身份证号码（只保存遮盖后的号码）", "village_group": "村民小组",
        "contact_name": "紧急联系人{n} 姓名", "contact_relation": "紧急联系人{n} 关系",
        "contact_phone": "紧急联系人{n} 电话", "contact_sms": "紧急联系人{n} 短信通知",
    },
    "en": {
        "id_card": "ID-card number (kept masked only)",
        "contact_name": "contact {n}: name", "contact_relation": "contact {n}: relation",
        "contact_phone": "contact {n}: phone", "contact_sms": "contact {n}: family SMS reports",
    },
}  # fmt: skip

_QUOTED = r"""(?P<q>['"])(?P<value>.*?)(?P=q)"""
_LOCAL_LANDLINE = re.compile(r"^\d{7,8}$")


def _phone(match: re.Match[str]) -> str:
    value = match["value"]
    text = f'不是有效的电话号码 "{value}"'
    if _LOCAL_LANDLINE.match(value):
        text += f"（本地固话请加区号，如 010-{value}）"
    return text


# English reason (its shape) → Chinese. The parsers' wording, in the order they raise it.
_Chinese = str | Callable[[re.Match[str]], str]  # a template of the match's groups, or a function of the match
_REASONS_ZH: list[tuple[re.Pattern[str], _Chinese]] = [
    (re.compile(pattern + "$"), zh)
    for pattern, zh in list[tuple[str, _Chinese]]([
        (r"required, but empty", "必填，但为空"),
        (rf"not a valid phone number: {_QUOTED}", _phone),
        (rf"not a phone number: {_QUOTED}", '不是电话号码 "{value}"'),
        (rf"empty phone number: {_QUOTED}", "电话号码为空"),
        (rf"unknown class {_QUOTED} \(.*\)",
         '未知的类别 "{value}"（可填：独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄）'),
        (r"at least one class is required", "至少要填一个类别"),
        (rf"risk must be .*, not {_QUOTED}", '风险等级应填 高/中/低，不是 "{value}"'),
        (rf"consent must be .*, not {_QUOTED}", '是否同意应填 是/否，不是 "{value}"'),
        (rf"must be 是/否 or yes/no, not {_QUOTED}", '应填 是/否，不是 "{value}"'),
        (rf"gender must be .*, not {_QUOTED}", '性别应填 男/女，不是 "{value}"'),
        (rf"kind must be .*, not {_QUOTED}", '类型应填 志愿者/社工/社区工作人员/机构人员，不是 "{value}"'),
        (rf"capacity must be a whole number of visits a month, not {_QUOTED}",
         '每月上限应为整数（每月探访次数），不是 "{value}"'),
        (r"capacity must be between 0 and 500, not (?P<value>-?\d+)", "每月上限应在 0 到 500 之间，不是 {value}"),
        (rf"not a date: {_QUOTED} \(write 1945-03-02\)", '不是日期 "{value}"（请写成 1945-03-02）'),
        (rf"no such date: {_QUOTED}", '没有这一天："{value}"'),
        (r"birth date (?P<value>\S+) is in the future", "出生日期 {value} 晚于今天"),
        (r"birth date (?P<value>\S+) is before 1900", "出生日期 {value} 早于 1900 年"),
        (r"too long \((?P<length>\d+) characters, at most (?P<most>\d+)\)", "太长（{length} 个字，最多 {most} 个）"),
        (rf"id {_QUOTED} already used in row (?P<first>\d+)", '编号 "{value}" 已在第{first}行用过'),
        (r"no community (?P<q>['\"])(?P<value>.*?)(?P=q) in street (?P<r>['\"])(?P<street>.*?)(?P=r)",
         '街道 "{street}" 下没有社区 "{value}"'),
        (rf"no community named {_QUOTED}; import the elders of that community first",
         '没有名为 "{value}" 的社区；请先导入该社区的老人名单'),
        (rf"(?P<count>\d+) communities are named {_QUOTED}: write it as 街道/.*",
         '有 {count} 个社区名为 "{value}"：请写成 街道/{value}'),
        (r"at least one community is required", "至少要填一个服务社区"),
    ])
]  # fmt: skip

# A whole file refused (roster.readers, roster.columns): the frequent ones.
_FILE_REASONS_ZH: list[tuple[re.Pattern[str], _Chinese]] = [
    (re.compile(r"unknown column\(s\) (?P<columns>.*)$"), "无法识别的列：{columns}"),
    (re.compile(r"the columns are: (?P<known>.*)$"), "可用的列：{known}"),
    (re.compile(r"missing column\(s\): (?P<columns>.*?)(?P<hint> \(the areas may also be named by .*\))?$"),
     "缺少必需的列：{columns}"),
    (re.compile(r"the column (?P<what>.*) appears twice(?P<rest>.*)$"), "列 {what} 出现了两次{rest}"),
    (re.compile(r"emergency contact (?P<n>\d+) needs the column\(s\) (?P<columns>.*)$"),
     "紧急联系人{n}还缺少列：{columns}"),
    (re.compile(r"the contact (?P<who>.*) needs a (?P<what>.*) column too$"), "联系人“{who}”还缺少“{what}”列"),
    (re.compile(r"no header row in the first (?P<n>\d+) rows.*$"),
     "前{n}行中找不到表头（一行列名，如 编号 姓名 性别 出生日期 社区 类别）"),
    (re.compile(r"the title names (?P<a>.*) but the sheet is named (?P<b>.*); make them agree or add a column for it$"),
     "标题写的是 {a}，工作表名却是 {b}；请改为一致，或增加一列写明"),
    (re.compile(r"no sheet holds a roster \((?P<why>.*)\)$"), "没有一个工作表是名单（{why}）"),
    (re.compile(r"the file is empty$"), "文件是空的"),
    (re.compile(r"the sheet is empty$"), "工作表是空的"),
    (re.compile(r"the first sheet is empty$"), "第一个工作表是空的"),
    (re.compile(r"the workbook has no sheets$"), "工作簿中没有工作表"),
    (re.compile(r"save the sheet as \.xlsx or \.csv first$"), "请先另存为 .xlsx 或 .csv 文件"),
    (re.compile(r"not a readable XLSX file \((?P<why>.*)\)$"), "不是可读取的 XLSX 文件（{why}）"),
    (re.compile(r"not a readable CSV file \((?P<why>.*)\)$"), "不是可读取的 CSV 文件（{why}）"),
    (re.compile(r"cannot read the file \((?P<why>.*)\)$"), "无法读取文件（{why}）"),
    (re.compile(r"refused: (?P<why>.*)$"), "已拒绝：文件解压后过大，不像是人工制作的表格（{why}）"),
]  # fmt: skip
_SHEET_PREFIX = re.compile(r"^sheet (?P<q>['\"])(?P<sheet>.*?)(?P=q): (?P<rest>.*)$", re.S)


def language_of(language: str | None) -> str:
    return language if language in LANGUAGES else "zh_CN"


def text(language: str, key: str, **values: object) -> str:
    return _TEXTS[language_of(language)][key].format(**values)


def reason(language: str, english: str) -> str:
    """A cell's problem in the worker's language (as written when there is no translation)."""
    if language_of(language) == "en":
        return english
    return _zh(_REASONS_ZH, english)


def _zh(catalogue: list[tuple[re.Pattern[str], _Chinese]], english: str) -> str:
    """The first matching entry's Chinese, else the English as written."""
    for pattern, zh in catalogue:
        match = pattern.match(english)
        if match:
            return zh(match) if callable(zh) else zh.format(**match.groupdict())
    return english


def _in_sheet_zh(english: str) -> tuple[str, str]:
    """A text naming a sheet ("sheet 'X': rest") as ("工作表“X”：", rest); ("", text) when it names none."""
    sheet = _SHEET_PREFIX.match(english)
    return (f"工作表“{sheet['sheet']}”：", sheet["rest"]) if sheet else ("", english)


def explained(language: str, found: RowProblem) -> str:
    """A row problem's reason in the worker's language: its own translation, else the catalogue's."""
    if language_of(language) != "en" and found.reason_zh:
        return found.reason_zh
    return reason(language, found.reason)


def problem(language: str, found: RowProblem) -> str:
    """`第43行 H列（联系电话）：…` / `row 43, column H (联系电话): …`."""
    why = explained(language, found)
    if not found.column:
        line = text(language, "problem_no_column", row=found.row, reason=why)
        return text(language, "in_sheet", sheet=found.sheet, line=line) if found.sheet else line
    if found.position is None:
        where = found.column
    else:
        where = text(language, "where", letter=column_letter(found.position), column=found.column)
    line = text(language, "problem", row=found.row, where=where, reason=why)
    return text(language, "in_sheet", sheet=found.sheet, line=line) if found.sheet else line


def file_problem(language: str, error: RosterFileError) -> str:
    why = error.reason
    if language_of(language) != "en":
        # A reason may hold several sheets' problems (one a line), each several parts ("; "), each maybe a sheet's.
        why = "\n".join(_file_reason_zh(line) for line in why.split("\n"))
    return text(language, "file_problem", file=error.file, reason=why)


def _file_reason_zh(line: str) -> str:
    prefix, rest = _in_sheet_zh(line)
    return prefix + "；".join(_zh(_FILE_REASONS_ZH, part) for part in rest.split("; "))


_NOTICES_ZH: list[tuple[re.Pattern[str], _Chinese]] = [
    (re.compile(r"^(?P<ref>.*): not a class visits are planned by; ignored$"), "{ref}：不是规划探访所用的类别，已忽略"),
    (re.compile(r"^(?P<ref>.*): not used; ignored$"), "{ref}：不使用，已忽略"),
    (re.compile(r"^(?P<ref>.*): ignored, the birth date says it$"), "{ref}：已忽略，以出生日期为准"),
    (re.compile(r"^(?P<ref>.*): read, not stored$"), "{ref}：已读取，不保存"),
    (re.compile(r"^a summary or instructions sheet$"), "汇总或说明表"),
    (re.compile(r"^hidden in Excel; read like the others$"), "在 Excel 中是隐藏的；已和其他工作表一样读取"),
    (re.compile(r"^empty$"), "空表"),
    (re.compile(r"^after the (?P<what>.*) row$"), "在{what}行之后"),
]  # fmt: skip


def notice(language: str, english: str) -> str:
    """How the file was read (a column set aside, a sheet skipped), in the worker's language."""
    if language_of(language) == "en":
        return english
    prefix, rest = _in_sheet_zh(english)
    return prefix + _zh(_NOTICES_ZH, rest)


def field_name(language: str, field: str) -> str:
    """A field as the worker knows it: 出生日期, 紧急联系人2 电话; English field names in en."""
    contact = re.match(r"^contact(\d+)_(\w+)$", field)
    names = _FIELDS[language_of(language)]
    if contact:
        key = f"contact_{contact.group(2)}"
        template = names.get(key) or _FIELDS["zh_CN"].get(key, field)
        return template.format(n=contact.group(1))
    return names.get(field, field)
