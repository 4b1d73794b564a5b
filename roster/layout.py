"""Reading a registration form as a community keeps it: where the header is, what the title says, which sheets and
which rows hold elders.

- The header is the row, among the first 20, that reads as most known column names; rows above it are the title. A
  second header row under it (独居 空巢 … under a merged 类别, 姓名 关系 电话 under 紧急联系人) is read with it.
- A title or a sheet's name that names a place (新街口街道西四北社区…登记表, a sheet called 西四北社区) gives the
  area names the rows lack. When both name a community and disagree, the sheet is refused rather than guessed.
- Every sheet is read; summary and instruction sheets (汇总, 统计, 合计, 说明 in the name) and empty sheets are
  skipped and named. A sheet with rows but no header we can read refuses the file: no sheet is ever left out quietly.
- Rows that are not elders (合计, 小计, 填表人, 审核人, 盖章, 制表, 日期, 注) are skipped and listed; so is every row
  after a 合计/总计 row. Blank rows are counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from carevisit.roster.columns import (
    AREA_FIELDS,
    Columns,
    HeaderCell,
    header_score,
    is_group_word,
    is_header_word,
)
from carevisit.roster.problems import RosterFileError
from carevisit.roster.readers import Row, Sheet, Table

MakeColumns = Callable[..., Columns]

# The fewest known column names a header row has (姓名 and one more).
_MIN_SCORE = 2
_SUMMARY_SHEET = re.compile(r"汇总|统计|合计|总计|说明")
_DEFAULT_SHEET = re.compile(r"^(sheet|工作表|表)\s*\d*$", re.IGNORECASE)
# A totals row ends the list: what follows it is a summary, not elders.
_TOTALS = re.compile(r"^(?:合\s*计|总\s*计|共\s*计)(?:\s*[:：].*|\s*\d+\s*[人户名]?)?$")
_SUBTOTAL = re.compile(r"^小\s*计(?:\s*[:：].*|\s*\d+\s*[人户名]?)?$")
_FOOTER = re.compile(
    r"^[（(]?(?:填\s*表\s*人|填报人|审\s*核\s*人|审核|审批人|负责人|制\s*表\s*人?|统计人|经办人|联系人|填表单位|填报单位|"
    r"单位|填表日期|填报日期|制表日期|日\s*期|注|说明|备注说明)[）)]?\s*(?:[:：]|\s|$|[（(]盖章)"
)
_FOOTER_STARTS = frozenset("合总共小填审负制统经联单日注说备（(盖")
MAX_SKIPPED_LISTED = 200

# Places a title names, in order: 北京市西城区新街口街道西四北社区…. The parts never run across a 街道 or 社区.
_MUNICIPALITIES = frozenset({"北京市", "上海市", "天津市", "重庆市"})
_YEAR = re.compile(r"^\s*\d{4}\s*年(?:度)?\s*")
_PLACE = re.compile(
    r"^(?P<province>[^省市]{2,8}?(?:省|自治区))?"
    r"(?P<city>(?:(?!街道|社区)[^省市区县]){1,8}?(?:市|自治州|盟|地区))?"
    r"(?P<district>(?:(?!街道|社区)[^市区县旗]){1,8}?(?:区|县|旗|市))?"
    r"(?P<street>(?:(?!街道|社区).){1,10}?(?:街道|镇|乡))?"
    r"(?P<community>(?:(?!社区|街道).){1,10}?(?:社区|村))?"
)


@dataclass(frozen=True)
class SkippedRow:
    sheet: str | None
    row: int
    reason: str  # "合计", "填表人", "after the 合计 row"


@dataclass
class SheetLayout:
    sheet: Sheet
    columns: Columns
    first_row: int  # the first row after the header
    header_rows: tuple[int, ...]
    title: str
    named: bool  # name the sheet in messages (the workbook has several)


@dataclass
class Layouts:
    sheets: list[SheetLayout]
    skipped_sheets: list[tuple[str, str]]  # (sheet, why)
    skipped_rows: list[SkippedRow] = field(default_factory=list)  # the first MAX_SKIPPED_LISTED
    skipped_count: int = 0

    @property
    def blank_rows(self) -> int:
        return sum(layout.sheet.blank_rows for layout in self.sheets)

    def rows(self, layout: SheetLayout) -> Iterator[Row]:
        """The sheet's rows that hold elders (or volunteers); the others are listed in `skipped_rows`."""
        name = layout.sheet.name if layout.named else None
        ended: str | None = None
        for row_number, cells in layout.sheet.rows(layout.first_row):
            first = cells[0] if cells and cells[0] else next((cell for cell in cells if cell), "")
            if ended is None and first[:1] not in _FOOTER_STARTS and first.lstrip()[:1] not in _FOOTER_STARTS:
                yield row_number, cells  # nearly every row
                continue
            reason = _not_an_elder(first.strip()) or ended
            if reason is None:
                yield row_number, cells
                continue
            if reason in ("合计", "总计", "共计"):
                ended = f"after the {reason} row"
            self.skipped_count += 1
            if len(self.skipped_rows) < MAX_SKIPPED_LISTED:
                self.skipped_rows.append(SkippedRow(name, row_number, reason))


def _not_an_elder(first: str) -> str | None:
    if _TOTALS.match(first):
        return re.sub(r"\s", "", first)[:2]
    if _SUBTOTAL.match(first):
        return "小计"
    if "盖章" in first and len(first) < 40:
        return "盖章"
    match = _FOOTER.match(first)
    if match:
        return re.sub(r"[\s（()）:：]", "", match.group())[:5] or "footer"
    return None


def read_layouts(table: Table, file: str, make_columns: MakeColumns, *, elders: bool) -> Layouts:
    """Every sheet's header and columns; every sheet's header problems together in one RosterFileError."""
    named = len(table.sheets) > 1
    layouts: list[SheetLayout] = []
    skipped: list[tuple[str, str]] = []
    problems: list[str] = []
    for sheet in table.sheets:
        where = f"sheet {sheet.name!r}: " if named else ""
        if not any(any(cells) for cells in sheet.top):
            if named:
                skipped.append((str(sheet.name), "empty"))
                continue
            raise RosterFileError(file, "the file is empty" if sheet.name is None else "the sheet is empty")
        if named and sheet.name and _SUMMARY_SHEET.search(sheet.name):
            skipped.append((sheet.name, "a summary or instructions sheet"))
            continue
        try:
            layouts.append(_layout(sheet, file, make_columns, where=where, named=named, elders=elders))
        except RosterFileError as error:
            problems.append(error.reason)
    if problems:
        raise RosterFileError(file, "\n".join(problems) if len(problems) > 1 else problems[0])
    if not layouts:
        raise RosterFileError(file, "no sheet holds a roster (" + ", ".join(f"{n}: {w}" for n, w in skipped) + ")")
    return Layouts(sheets=layouts, skipped_sheets=skipped)


def _layout(
    sheet: Sheet, file: str, make_columns: MakeColumns, *, where: str, named: bool, elders: bool
) -> SheetLayout:
    top = sheet.top
    scores = [header_score(cells, elders=elders) for cells in top]
    best = max(range(len(top)), key=lambda n: (scores[n], -n))
    if scores[best] < _MIN_SCORE:
        raise RosterFileError(
            file,
            f"{where}no header row in the first {len(top)} rows (a row of column names such as 编号 姓名 性别 "
            "出生日期 社区 类别)",
        )
    rows: tuple[int, ...] = (best,)
    if best + 1 < len(top) and _is_second_header(top[best], top[best + 1]):
        rows = (best, best + 1)
    elif best > 0 and _is_group_row(top[best - 1], top[best]):
        rows = (best - 1, best)
    merged = any(first <= rows[0] + 1 <= last for first, last, _, _ in sheet.merges)
    header = _header(top, rows, merged=merged)
    title = " ".join(dict.fromkeys(cell for cells in top[: rows[0]] for cell in cells if cell))  # merged: once
    defaults = _area_defaults(title, sheet.name, file=file, where=where) if elders else {}
    columns = make_columns(header, file, defaults=defaults, where=where)
    return SheetLayout(
        sheet=sheet,
        columns=columns,
        first_row=rows[-1] + 2,
        header_rows=tuple(n + 1 for n in rows),
        title=title,
        named=named,
    )


def _is_second_header(top: list[str], below: list[str]) -> bool:
    """The row under the header is its second row: its cells (other than those merged down) are header words."""
    own = [cell for n, cell in enumerate(below) if cell and (n >= len(top) or cell != top[n])]
    if not own:
        return False
    words = sum(1 for cell in own if is_header_word(cell))
    return words >= 1 and words >= 0.6 * len(own) and any(is_group_word(cell) for cell in top if cell)


def _is_group_row(above: list[str], header: list[str]) -> bool:
    """The row over the header groups its columns (类别 over 独居 空巢 …)."""
    return any(is_group_word(cell) for cell in above if cell) and all(
        not cell or is_group_word(cell) or is_header_word(cell) or (n < len(header) and cell == header[n])
        for n, cell in enumerate(above)
    )


def _header(top: list[list[str]], rows: tuple[int, ...], *, merged: bool) -> list[HeaderCell]:
    if len(rows) == 1:
        cells = top[rows[0]]
        return _trimmed([HeaderCell(n, cell) for n, cell in enumerate(cells)])
    upper, lower = top[rows[0]], top[rows[1]]
    width = max(len(upper), len(lower))
    upper = upper + [""] * (width - len(upper))
    lower = lower + [""] * (width - len(lower))
    if not merged:
        # Without merged cells (a CSV file, or a sheet whose author left the cells unmerged) a group's text stands
        # over its first column only: carry it right over the columns that have only a lower text.
        group = ""
        for n in range(width):
            if upper[n]:
                group = upper[n] if lower[n] and is_group_word(upper[n]) else ""
            elif lower[n] and group:
                upper[n] = group
            else:
                group = ""
    header = []
    for n in range(width):
        above, below = upper[n].strip(), lower[n].strip()
        if not below or below == above:
            header.append(HeaderCell(n, above))
        elif not above:
            header.append(HeaderCell(n, below))
        else:
            header.append(HeaderCell(n, below, group=above))
    return _trimmed(header)


def _trimmed(header: list[HeaderCell]) -> list[HeaderCell]:
    while header and not header[-1].name.strip():  # Excel often reports trailing empty columns
        header.pop()
    return header


def places(text: str) -> dict[str, str]:
    """The area names at the start of a title or a sheet's name: 北京市西城区新街口街道西四北社区… → all five."""
    cleaned = _YEAR.sub("", re.sub(r"\s", "", text))
    match = _PLACE.match(cleaned)
    if match is None:
        return {}
    found = {level: value for level, value in match.groupdict().items() if value}
    if "province" not in found and found.get("city") in _MUNICIPALITIES:
        found["province"] = found["city"]  # 北京市 is its own province, as the area tree keeps it
    return found


def _area_defaults(title: str, sheet: str | None, *, file: str, where: str) -> dict[str, str]:
    found = places(title)
    if sheet and not _DEFAULT_SHEET.match(sheet.strip()):
        from_sheet = places(sheet) or {"community": sheet.strip()}
        for level in AREA_FIELDS:
            if level not in from_sheet:
                continue
            if level in found and found[level] != from_sheet[level]:
                raise RosterFileError(
                    file,
                    f"{where}the title names {found[level]!r} but the sheet is named {from_sheet[level]!r}; "
                    "make them agree or add a column for it",
                )
            found[level] = from_sheet[level]
    return found
