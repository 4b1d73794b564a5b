"""Streaming readers for roster files: CSV in UTF-8 (with or without BOM) or GB18030, and XLSX with every sheet.

A file is a list of sheets (a CSV file is one sheet without a name). Each sheet gives its first rows as they are
(title rows and a one- or two-row header, merged cells filled in: see `roster.layout`), then its rows from any row
on, one row at a time, blank rows left out, so a million-row file never sits in memory.

XLSX files are checked before openpyxl reads them: a workbook whose parts unpack to far more than any roster (a zip
bomb) is refused from the zip directory alone, and broken XML is a RosterFileError naming the file and the sheet,
never a parser's traceback.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from carevisit.roster.problems import RosterFileError

Row = tuple[int, list[str]]
# (first row, last row, first column, last column), 1-based and inclusive, as Excel numbers them.
Merge = tuple[int, int, int, int]

# Enough to decide the encoding; a wrong guess later in the file is still caught, as a clear error.
_SNIFF_BYTES = 256 * 1024
_XLSX_MAGIC = b"PK\x03\x04"
_UNDECODABLE = re.compile("[\udc80-\udcff]")
# The rows read as they are, to find the title and the header in (`roster.layout`).
TOP_ROWS = 20

# Zip bombs. A worksheet is streamed (its size costs time, not memory); every other part (shared strings, styles)
# is loaded whole by openpyxl. A roster of a million rows unpacks to some 300 MB of sheet XML, at 5–20 times its
# packed size; the caps leave room for that and refuse what only a crafted file reaches.
MAX_UNPACKED_BYTES = 2 * 1024**3  # the whole workbook, unpacked
MAX_LOADED_BYTES = 200 * 1024**2  # the parts openpyxl loads into memory, unpacked
MAX_RATIO = 100  # unpacked / packed size of any part over 1 MiB
MAX_PARTS = 10_000
_RATIO_FROM_BYTES = 1024**2


@dataclass
class Sheet:
    """One sheet: `top` is its first rows (row `n` is `top[n - 1]`), `rows(start)` its non-blank rows from `start`."""

    name: str | None  # None for a CSV file
    top: list[list[str]]
    read_from: Callable[[int], Iterator[Row]]
    hidden: bool = False
    merges: tuple[Merge, ...] = ()  # merged ranges that start within the top rows (XLSX only)
    blank_rows: int = 0  # blank rows left out so far by `rows`

    def rows(self, start: int) -> Iterator[Row]:
        return self.read_from(start)


@dataclass
class Table:
    sheets: list[Sheet]
    format: str  # "csv:utf-8-sig", "csv:gb18030" or "xlsx"


@contextmanager
def open_table(path: Path) -> Iterator[Table]:
    """Open a roster file, whatever its format; raises RosterFileError for anything unreadable."""
    name = path.name
    try:
        with path.open("rb") as probe:
            start = probe.read(len(_XLSX_MAGIC))
            sample = start + _first_non_ascii_chunk(probe) if start.isascii() else start + probe.read(_SNIFF_BYTES)
    except OSError as error:
        raise RosterFileError(name, f"cannot read the file ({error.strerror})") from None
    if start.startswith(_XLSX_MAGIC):
        with _xlsx_table(path) as table:
            yield table
    elif path.suffix.lower() in (".xls", ".xlsm", ".ods", ".et"):
        raise RosterFileError(name, "save the sheet as .xlsx or .csv first")
    else:
        with _csv_table(path, detect_encoding(sample)) as table:
            yield table


def _first_non_ascii_chunk(stream: BinaryIO) -> bytes:
    """The first chunk with a non-ASCII byte: an English header and pinyin rows say nothing about the encoding."""
    while chunk := stream.read(_SNIFF_BYTES):
        if not chunk.isascii():
            return chunk
    return b""


def detect_encoding(start: bytes) -> str:
    """UTF-8 (with or without BOM) when the start decodes as UTF-8, else GB18030 (what Excel in China writes)."""
    try:
        # final=False: a multi-byte character cut at the sniff boundary is not an error.
        codecs.getincrementaldecoder("utf-8-sig")().decode(start, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


# --- CSV ---------------------------------------------------------------------------------------------------------


@contextmanager
def _csv_table(path: Path, encoding: str) -> Iterator[Table]:
    name = path.name
    # surrogateescape: an undecodable byte becomes a marker we find in its own row, so the error names the right row
    # (a strict decoder fails a whole read-ahead buffer early).
    with path.open(encoding=encoding, errors="surrogateescape", newline="") as stream:
        reader = csv.reader(stream)
        top: list[list[str]] = []
        try:
            while len(top) < TOP_ROWS and (cells := next(reader, None)) is not None:
                top.append(cells)
        except csv.Error as error:
            raise RosterFileError(name, f"row {len(top) + 1}: broken CSV ({error})") from None
        if not any("".join(cells).strip() for cells in top):
            raise RosterFileError(name, "the file is empty")
        if _UNDECODABLE.search("".join("".join(cells) for cells in top)):
            raise RosterFileError(name, "the text is neither UTF-8 nor GB18030; save it again as one of them")
        used = False

        def read_from(start: int) -> Iterator[Row]:
            # The top rows are already read: the rest of the file follows them, once.
            nonlocal used
            assert not used, "a CSV file is read once"
            used = True
            return _csv_rows(sheet, top, start, reader, name, encoding)

        sheet = Sheet(name=None, top=top, read_from=read_from)
        yield Table(sheets=[sheet], format=f"csv:{encoding}")


def _csv_rows(sheet: Sheet, top: list[list[str]], start: int, reader: Any, name: str, encoding: str) -> Iterator[Row]:
    def rest() -> Iterator[list[str]]:
        yield from top
        while True:
            try:
                cells = next(reader, None)
            except csv.Error as error:
                raise RosterFileError(name, f"row {row_number + 1}: broken CSV ({error})") from None
            if cells is None:
                return
            yield cells

    row_number = 0
    for cells in rest():
        row_number += 1
        if row_number < start:
            continue
        text = "".join(cells)
        if _UNDECODABLE.search(text):
            raise RosterFileError(
                name,
                f"row {row_number} is not valid {encoding.removesuffix('-sig').upper()} text "
                "(the file mixes encodings?); save the file again as UTF-8 or GB18030",
            )
        if text and not text.isspace():  # some cell is not blank
            yield row_number, cells
        else:
            sheet.blank_rows += 1


# --- XLSX --------------------------------------------------------------------------------------------------------


def check_xlsx_parts(path: Path) -> None:
    """Refuse a workbook that would unpack to far more than a roster, from its zip directory alone."""
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise RosterFileError(name, f"not a readable XLSX file ({error})") from None
    if len(parts) > MAX_PARTS:
        raise RosterFileError(name, f"not a roster: the workbook has {len(parts):,} parts")
    unpacked = loaded = 0
    for part in parts:
        unpacked += part.file_size
        if not part.filename.startswith("xl/worksheets/"):
            loaded += part.file_size
        if part.file_size > _RATIO_FROM_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise RosterFileError(
                name,
                f"refused: the part {part.filename} unpacks to {part.file_size / 1024**2:,.0f} MB from "
                f"{part.compress_size / 1024:,.0f} KB (more than {MAX_RATIO} times; not a spreadsheet a person made)",
            )
    if unpacked > MAX_UNPACKED_BYTES or loaded > MAX_LOADED_BYTES:
        raise RosterFileError(
            name,
            f"refused: the workbook unpacks to {unpacked / 1024**2:,.0f} MB, more than a roster needs "
            f"(at most {MAX_UNPACKED_BYTES // 1024**2:,} MB, {MAX_LOADED_BYTES // 1024**2} MB outside the sheets); "
            "save it as CSV",
        )


# openpyxl parses with xml.etree (or lxml): broken XML raises a SyntaxError subclass; other damage surfaces as these.
_BROKEN = (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError, KeyError, IndexError, TypeError, ValueError, OSError)


@contextmanager
def _xlsx_table(path: Path) -> Iterator[Table]:
    import openpyxl  # only XLSX imports need it loaded

    name = path.name
    check_xlsx_parts(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except _BROKEN as error:
        raise RosterFileError(name, f"not a readable XLSX file ({_reason(error)})") from None
    try:
        sheets = [_xlsx_sheet(workbook, worksheet, name) for worksheet in workbook.worksheets]
        if not sheets:
            raise RosterFileError(name, "the workbook has no sheets")
        yield Table(sheets=sheets, format="xlsx")
    finally:
        workbook.close()


def _reason(error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return f"broken XML: {error.msg}" if error.msg else "broken XML"
    return str(error) or type(error).__name__


def _xlsx_sheet(workbook: Any, worksheet: Any, file: str) -> Sheet:
    title = str(worksheet.title)
    merges = _merged_ranges(workbook, worksheet, file, title)
    worksheet.reset_dimensions()  # WPS and some generators write a wrong <dimension>; read the cells themselves
    top: list[list[str]] = []
    for _, cells in _xlsx_rows(worksheet, 1, merges, file, title, TOP_ROWS, keep_blank=True):
        top.append(cells)
    sheet = Sheet(
        name=title,
        top=top,
        read_from=lambda start: _xlsx_rows(worksheet, start, merges, file, title, None, sheet=sheet),
        hidden=getattr(worksheet, "sheet_state", "visible") != "visible",
        merges=tuple(merge for merge in merges if merge[0] <= TOP_ROWS),
    )
    return sheet


_MERGE_START = re.compile(rb"<(?:\w+:)?mergeCells\b")
_MERGE_END = re.compile(rb"</(?:\w+:)?mergeCells>")
_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})\"")
_CHUNK = 1024 * 1024


def _merged_ranges(workbook: Any, worksheet: Any, file: str, sheet: str) -> list[Merge]:
    """The sheet's merged cells, which openpyxl's read-only mode does not expose.

    <mergeCells> follows <sheetData> in the sheet's XML, so the part is inflated once up to it and only scanned for
    the element (no XML parsing): measured here at 1.7 s for a 190 MB sheet part (400,000 rows of 12 cells; 2 busy
    cores), a small share of what openpyxl then takes to read those rows.
    """
    part = getattr(worksheet, "_worksheet_path", None)
    archive = getattr(workbook, "_archive", None)
    if part is None or archive is None:
        return []
    found = bytearray()
    tail = b""
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK):
                window = tail + chunk
                if not found:
                    start = _MERGE_START.search(window)
                    if start is None:
                        tail = window[-32:]
                        continue
                    window = window[start.start() :]
                found += window
                if _MERGE_END.search(found):
                    break
                tail = b""
    except _BROKEN as error:
        raise RosterFileError(file, f"sheet {sheet!r}: not a readable XLSX file ({_reason(error)})") from None
    merges = []
    for match in _MERGE_REF.finditer(bytes(found)):
        first_column, first_row, last_column, last_row = match.groups()
        merges.append((int(first_row), int(last_row), _column_number(first_column), _column_number(last_column)))
    merges.sort()
    return merges


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _xlsx_rows(
    worksheet: Any,
    start: int,
    merges: list[Merge],
    file: str,
    title: str,
    max_row: int | None,
    *,
    keep_blank: bool = False,
    sheet: Sheet | None = None,
) -> Iterator[Row]:
    """Rows from `start`, a merged range's value in each of its cells (openpyxl gives only the first one)."""
    pending = [merge for merge in merges if merge[1] >= start and (max_row is None or merge[0] <= max_row)]
    active: list[tuple[Merge, str]] = []
    values = iter(worksheet.iter_rows(min_row=1, max_row=max_row, values_only=True))
    row_number = 0
    while True:
        try:
            row = next(values, None)
        except _BROKEN as error:
            raise RosterFileError(
                file, f"sheet {title!r}, after row {row_number}: not a readable XLSX file ({_reason(error)})"
            ) from None
        if row is None:
            return
        row_number += 1
        if row_number < start and not (pending and pending[0][0] <= row_number):
            continue
        cells = [_text(value) for value in row]
        if pending or active:
            cells = _merged(cells, row_number, pending, active)
        if row_number < start:
            continue
        if keep_blank or any(cells):
            yield row_number, cells
        elif sheet is not None:
            sheet.blank_rows += 1


def _merged(cells: list[str], row_number: int, pending: list[Merge], active: list[tuple[Merge, str]]) -> list[str]:
    while pending and pending[0][0] <= row_number:
        merge = pending.pop(0)
        first_column = merge[2]
        active.append((merge, cells[first_column - 1] if first_column <= len(cells) else ""))
    active[:] = [(merge, value) for merge, value in active if merge[1] >= row_number]
    for (_, _, first_column, last_column), value in active:
        if len(cells) < last_column:
            cells.extend([""] * (last_column - len(cells)))
        for column in range(first_column, last_column + 1):
            cells[column - 1] = value
    return cells


def _text(value: Any) -> str:
    """A cell as the text a coordinator typed: 13800138000 not 13800138000.0, dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
