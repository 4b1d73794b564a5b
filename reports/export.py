"""Reports out as CSV or Excel, with Chinese headers, local times, and no cell a spreadsheet would run as a formula.

In Excel the rates are numbers formatted as percentages (so they sort and sum), the last activity a local date and
time; in CSV (and the CLI's table) both are written as text a person reads: "85.0%", "2026-03-15 23:30".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from carevisit.care.cells import neutralise
from carevisit.reports.monthly import UNASSIGNED_CODE, Counts, Report, ReportBy, ReportRow

__all__ = ["HEADERS", "headers", "neutralise", "table", "terminal_table", "to_csv", "to_xlsx"]

_FIRST_COLUMN = {ReportBy.AREA: "区域", ReportBy.ORGANISATION: "组织", ReportBy.VOLUNTEER: "志愿者"}


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    PERCENT = "percent"  # a fraction 0…1, or None when there is nothing to divide
    TIME = "time"  # an aware datetime, or None


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Counts], Any]
    kind: Kind = Kind.COUNT
    width: int = 10


def _on_time_rate(c: Counts) -> float | None:
    return c.on_time / c.done if c.done else None


COLUMNS = (
    Column("老人数", lambda c: c.elders, width=8),
    Column("同意探访(应探访)", lambda c: c.consenting, width=16),
    Column("已探访老人", lambda c: c.visited),
    Column("月探访率", lambda c: c.rate.rate, Kind.PERCENT),
    Column("计划探访", lambda c: c.planned),
    Column("已完成", lambda c: c.done),
    Column("按时完成", lambda c: c.on_time),
    Column("按时完成率", _on_time_rate, Kind.PERCENT, 12),
    Column("错过", lambda c: c.missed, width=8),
    Column("未分配", lambda c: c.unassigned, width=8),
)
HEADERS = tuple(column.header for column in COLUMNS)
LAST_ACTIVITY = "最近完成探访"


def headers(report: Report) -> list[str]:
    """Organisations have no code of their own (only a database id, which is nobody's business): name only."""
    first = _FIRST_COLUMN[report.by]
    codes = [] if report.by == ReportBy.ORGANISATION else [f"{first}代码"]
    return [*codes, f"{first}名称", *HEADERS, LAST_ACTIVITY]


def _kinds(report: Report) -> list[Kind]:
    codes = [] if report.by == ReportBy.ORGANISATION else [Kind.TEXT]
    return [*codes, Kind.TEXT, *(column.kind for column in COLUMNS), Kind.TIME]


def _raw(report: Report, row: ReportRow, name: str) -> list[Any]:
    codes = [] if report.by == ReportBy.ORGANISATION else [row.code]
    return [*codes, name, *(column.value(row.counts) for column in COLUMNS), row.last_activity]


def _lines(report: Report) -> list[list[Any]]:
    """One line per row and the totals line ("合计"), values raw: fractions and aware datetimes."""
    return [
        *(_raw(report, row, row.name) for row in report.rows),
        _raw(report, report.total, f"合计：{report.total.name}"),
    ]


def _text(value: Any, kind: Kind, zone: ZoneInfo) -> Any:
    if value is None:
        return ""
    if kind == Kind.PERCENT:
        return f"{value * 100:.1f}%"
    if kind == Kind.TIME:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return value


def table(report: Report) -> list[list[Any]]:
    """Header and lines as text a person reads (the CSV and the terminal): "85.0%", local times."""
    kinds = _kinds(report)
    zone = report.zone
    lines = [[_text(value, kind, zone) for value, kind in zip(line, kinds, strict=True)] for line in _lines(report)]
    return [headers(report), *lines]


# The terminal's columns: what fits 80 characters (Chinese takes two each); the files have them all.
_TERMINAL = ("同意探访(应探访)", "已探访老人", "月探访率", "计划探访", "已完成", "按时完成率", "未分配")
_TERMINAL_HEADS = ("应探访", "已探访", "探访率", "计划", "已完成", "按时率", "未分配")


def terminal_table(report: Report) -> list[list[str]]:
    """The report for an 80-column terminal: the name (with the roster id of a volunteer) and seven figures."""
    full = table(report)
    head = full[0]
    picked = [head.index(name) for name in _TERMINAL]
    name_at = head.index(f"{_FIRST_COLUMN[report.by]}名称")
    first = _FIRST_COLUMN[report.by]
    lines = [[first, *_TERMINAL_HEADS]]
    for line in full[1:]:
        name = str(line[name_at])
        if report.by == ReportBy.VOLUNTEER and line[0] not in ("", UNASSIGNED_CODE) and not name.startswith("合计"):
            name = f"{name} {line[0]}"
        lines.append([name, *(str(line[index]) for index in picked)])
    return lines


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in table(report):
        writer.writerow([neutralise(value) for value in line])
    return "\ufeff" + out.getvalue()  # the BOM makes Excel read the Chinese as UTF-8


def _cell(value: Any, kind: Kind, zone: ZoneInfo) -> Any:
    if kind == Kind.TIME and isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None)  # Excel has no time zones: the local wall time
    return neutralise(value)


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{report.month} 探访率"[:31]
    kinds = _kinds(report)
    sheet.append(headers(report))
    lines = _lines(report)
    for line in lines:
        sheet.append([_cell(value, kind, report.zone) for value, kind in zip(line, kinds, strict=True)])
    for cell in (*sheet[1], *sheet[len(lines) + 1]):
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [*([16] if report.by != ReportBy.ORGANISATION else []), 24, *(c.width for c in COLUMNS), 18]
    for index, (kind, width) in enumerate(zip(kinds, widths, strict=True), start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = width
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if kind == Kind.PERCENT:
                cell.number_format = "0.0%"
            elif kind == Kind.TIME:
                cell.number_format = "yyyy-mm-dd hh:mm"
    # Strings stay strings: a name like "=HYPERLINK(...)" must never become a formula.
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
