"""The problems of a refused roster as a workbook beside it (`名单.问题.xlsx`): the bad rows as the file has them,
header kept, each with its problems in a 问题 column and its row number in the original, the bad cells marked. More
than a screenful of problems is fixed in Excel, not read off a terminal.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from carevisit.roster import messages
from carevisit.roster.columns import elder_columns, volunteer_columns
from carevisit.roster.layout import SheetLayout, read_layouts
from carevisit.roster.problems import RowProblem
from carevisit.roster.readers import open_table

# Above this many problems the command also writes the workbook.
SCREENFUL = 20

_NAMES = {"zh_CN": ("问题", "原表行号"), "en": ("problems", "row in the file")}


def problems_path(path: Path, language: str) -> Path:
    suffix = "问题" if messages.language_of(language) == "zh_CN" else "problems"
    return path.with_name(f"{path.stem}.{suffix}.xlsx")


def write_problems_file(source: Path, problems: list[RowProblem], *, language: str, elders: bool = True) -> Path:
    """Write the workbook next to `source` and return its path; raises OSError when it cannot be written.

    One sheet for each sheet of the roster with problems, its header row on top. Reads `source` again, streaming:
    only the rows with problems are kept in memory (at most the problems kept).
    """
    import openpyxl

    by_row: dict[tuple[str | None, int], list[RowProblem]] = defaultdict(list)
    for problem in problems:
        by_row[(problem.sheet, problem.row)].append(problem)
    target = problems_path(source, language)
    workbook = openpyxl.Workbook(write_only=True)
    make_columns = elder_columns if elders else volunteer_columns
    with open_table(source) as table:
        layouts = read_layouts(table, source.name, make_columns, elders=elders)
        for layout in layouts.sheets:
            name = layout.sheet.name if layout.named else None
            if not any(sheet == name for sheet, _ in by_row):
                continue
            found = {row: listed for (sheet, row), listed in by_row.items() if sheet == name}
            _write_sheet(workbook, name, layout, found, language)
    workbook.save(target)
    return target


def _write_sheet(
    workbook: Any, name: str | None, layout: SheetLayout, found_rows: dict[int, list[RowProblem]], language: str
) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    problems_header, row_header = _NAMES[messages.language_of(language)]
    sheet = workbook.create_sheet(title=(name or "Sheet1")[:31])
    bad = PatternFill("solid", start_color="FFF4CCCC")
    bold = Font(bold=True)
    header = layout.sheet.top[layout.header_rows[-1] - 1]  # rows count from 1
    width = len(header)
    sheet.freeze_panes = "A2"
    cells_out = []
    for text in [*header, problems_header, row_header]:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        cells_out.append(cell)
    sheet.append(cells_out)
    for number, cells in layout.sheet.rows(layout.first_row):
        found = found_rows.get(number)
        if not found:
            continue
        marked = {p.position for p in found if p.position is not None}
        row = []
        # cut to the header's width (cells beyond it are not read), so 问题 stays under its header
        for position, value in enumerate([*cells[:width], *[""] * (width - len(cells))]):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "@"  # as text: an ID number or a phone stays as written
            if position in marked:
                cell.fill = bad
            row.append(cell)
        why = "\n".join(_problem(language, p) for p in found)
        sheet.append([*row, why, number])


def _problem(language: str, problem: RowProblem) -> str:
    why = messages.explained(language, problem)
    if not problem.column:
        return why
    if problem.position is None:
        return f"{problem.column}: {why}"
    where = messages.text(language, "where", letter=messages.column_letter(problem.position), column=problem.column)
    return f"{where}：{why}" if messages.language_of(language) == "zh_CN" else f"{where}: {why}"
