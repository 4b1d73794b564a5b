"""Registration forms as street offices and villages make them: a merged title, a two-row header with merged group
cells (类别 over tick columns, 紧急联系人 over 姓名/关系/电话), 序号 and 身份证号码 columns, a 合计 row and a
填表人/审核人 footer, one sheet per community and a 汇总 sheet."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

from carevisit.roster import fields

TITLE = "北京市西城区新街口街道西四北社区特殊困难老年人探访关爱服务对象登记表"
STREET_TITLE = "北京市西城区新街口街道特殊困难老年人探访关爱服务对象登记表"
CLASSES = ("独居", "空巢", "失能", "高龄")
# The two header rows: a column's own text, or (group, [sub-columns]).
HEADER: list[str | tuple[str, Sequence[str]]] = [
    "序号", "编号", "姓名", "性别", "出生年月", "身份证号码", "家庭住址", "联系电话", ("类别", CLASSES), "风险等级",
    "是否同意", ("紧急联系人", ("姓名", "关系", "电话")), "备注",
]  # fmt: skip
FOOTER = [["合计", "", "{count}人"], [], ["填表人：张三", "", "", "审核人：李四", "", "", "填表日期：2024年3月1日"]]


def form_row(
    number: int,
    external_id: str,
    *,
    name: str = "王秀英",
    ticks: Sequence[str] = ("独居", "高龄"),
    mark: str = "√",
    phone: object = "13800138000",
    contact: tuple[str, str, object] = ("李建国", "儿子", "13912345678"),
    risk: str = "高",
    consent: str = "是",
    notes: str = "",
    gender: str = "女",
    birth: object = "1942-05-03",
) -> list[object]:
    """One elder in HEADER's column order."""
    return [
        number, external_id, name, gender, birth, id_card(gender, birth), "新街口东街15号", phone,
        *(mark if klass in ticks else "" for klass in CLASSES), risk, consent, *contact, notes,
    ]  # fmt: skip


_people = itertools.count(1)


def id_card(gender: str, birth: object) -> str:
    """A valid ID-card number (GB 11643 check digit) agreeing with the row's birth date and gender; each row's its
    own (a number used twice in a file is refused)."""
    written = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", str(birth))
    born = "".join(written.groups()) if written else "19420503"
    sex = "1" if gender.startswith("男") else "2"  # the 17th digit: odd for men
    body = f"110102{born}{next(_people) % 100:02d}{sex}"
    return body + fields.id_card_check_digit(body)


@dataclass
class FormSheet:
    name: str
    rows: list[list[object]]
    title: str | None = TITLE
    footer: bool = True
    header: list[str | tuple[str, Sequence[str]]] = field(default_factory=lambda: list(HEADER))
    merge: bool = True  # merged cells, as Excel's 合并单元格 makes them; False: the same texts, unmerged


def _flat_header(header: Sequence[str | tuple[str, Sequence[str]]]) -> tuple[list[str], list[str], list[tuple]]:
    """The two header rows and the merges (first column, last column, vertical) that make them."""
    upper: list[str] = []
    lower: list[str] = []
    merges: list[tuple[int, int, bool]] = []
    for column in header:
        start = len(upper) + 1
        if isinstance(column, str):
            upper.append(column)
            lower.append("")
            merges.append((start, start, True))
        else:
            group, subs = column
            upper.extend([group] + [""] * (len(subs) - 1))
            lower.extend(subs)
            merges.append((start, start + len(subs) - 1, False))
    return upper, lower, merges


def write_form(path: Path, sheets: Sequence[FormSheet], *, summary: bool = False) -> Path:
    workbook = openpyxl.Workbook()
    default = workbook.active
    assert default is not None
    workbook.remove(default)
    for spec in sheets:
        sheet = workbook.create_sheet(spec.name)
        upper, lower, merges = _flat_header(spec.header)
        width = len(upper)
        top = 1
        if spec.title is not None:
            sheet.append([spec.title])
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            sheet.append(["填报单位（盖章）：", "", "", "", "", "", "", "", "填报时间：2024年3月"])
            top = 3
        sheet.append(upper)
        sheet.append(lower)
        if spec.merge:
            for first, last, vertical in merges:
                if vertical:
                    sheet.merge_cells(start_row=top, start_column=first, end_row=top + 1, end_column=first)
                else:
                    sheet.merge_cells(f"{get_column_letter(first)}{top}:{get_column_letter(last)}{top}")
        for row in spec.rows:
            sheet.append(list(row))
        if spec.footer:
            for row in FOOTER:
                sheet.append([cell.format(count=len(spec.rows)) for cell in row])
    if summary:
        totals = workbook.create_sheet("汇总")
        totals.append(["社区", "人数"])
        for spec in sheets:
            totals.append([spec.name, len(spec.rows)])
    workbook.save(path)
    return path
