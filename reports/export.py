"""Reports out as CSV or Excel, with Chinese headers, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from carevisit.reports.monthly import Report, ReportBy, ReportRow

_FIRST_COLUMN = {ReportBy.AREA: "区域", ReportBy.ORGANISATION: "组织", ReportBy.VOLUNTEER: "志愿者"}
HEADERS = ("老人数", "同意探访(应探访)", "已探访老人", "月探访率", "计划探访", "已完成", "按时完成", "错过", "未分配")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text starting with = + - @ (or a tab/CR) is prefixed with ' so Excel and LibreOffice show, not run, it."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def headers(report: Report) -> list[str]:
    first = _FIRST_COLUMN[report.by]
    return [f"{first}代码", f"{first}名称", *HEADERS]


def row_values(row: ReportRow) -> list[Any]:
    c = row.counts
    return [
        row.code,
        row.name,
        c.elders,
        c.consenting,
        c.visited,
        c.rate.percent,
        c.planned,
        c.done,
        c.on_time,
        c.missed,
        c.unassigned,
    ]


def table(report: Report) -> list[list[Any]]:
    """Header, one line per row, and the totals line ("合计")."""
    total = row_values(report.total)
    total[1] = f"合计：{report.total.name}"
    return [headers(report), *(row_values(row) for row in report.rows), total]


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in table(report):
        writer.writerow([neutralise(value) for value in line])
    return "\ufeff" + out.getvalue()  # the BOM makes Excel read the Chinese as UTF-8


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report.month} 探访率"[:31]
    lines = table(report)
    for line in lines:
        sheet.append([neutralise(value) for value in line])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[len(lines)]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for index, width in enumerate((16, 24, 8, 16, 10, 10, 10, 10, 10, 8, 8), start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    # Strings stay strings: a name like "=HYPERLINK(...)" must never become a formula.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
