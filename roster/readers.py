"""Streaming readers for roster files: CSV in UTF-8 (with or without BOM) or GB18030, and XLSX.

Both yield the header once, then (row number, cells as text) for every non-blank row, one row at a time, so a
million-row file never sits in memory.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from carevisit.roster.problems import RosterFileError

# Enough to decide the encoding; a wrong guess later in the file is still caught, as a clear error.
_SNIFF_BYTES = 256 * 1024
_XLSX_MAGIC = b"PK\x03\x04"
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
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
    elif path.suffix.lower() in (".xls", ".xlsm", ".ods"):
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


@contextmanager
def _csv_table(path: Path, encoding: str) -> Iterator[Table]:
    name = path.name
    # surrogateescape: an undecodable byte becomes a marker we find in its own row, so the error names the right row
    # (a strict decoder fails a whole read-ahead buffer early).
    with path.open(encoding=encoding, errors="surrogateescape", newline="") as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise RosterFileError(name, f"not a readable CSV file ({error})") from None
        if header is None:
            raise RosterFileError(name, "the file is empty")
        while header and not header[-1].strip():  # stray empty columns Excel keeps after the last header
            header.pop()
        if _UNDECODABLE.search("".join(header)):
            raise RosterFileError(name, "the text is neither UTF-8 nor GB18030; save it again as one of them")
        yield Table(header=header, rows=_csv_rows(reader, name, encoding), format=f"csv:{encoding}")


def _csv_rows(reader: Any, name: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    row_number = 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            raise RosterFileError(name, f"row {row_number + 1}: broken CSV ({error})") from None
        if cells is None:
            return
        row_number += 1
        text = "".join(cells)
        if _UNDECODABLE.search(text):
            raise RosterFileError(
                name,
                f"row {row_number} is not valid {encoding.removesuffix('-sig').upper()} text "
                "(the file mixes encodings?); save the file again as UTF-8 or GB18030",
            )
        if text and not text.isspace():  # some cell is not blank
            yield row_number, cells


@contextmanager
def _xlsx_table(path: Path) -> Iterator[Table]:
    import openpyxl  # only XLSX imports need it loaded

    name = path.name
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise RosterFileError(name, f"not a readable XLSX file ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise RosterFileError(name, "the first sheet is empty")
        header = [_text(value) for value in first]
        while header and not header[-1]:  # Excel often reports trailing empty columns
            header.pop()
        yield Table(header=header, rows=_xlsx_rows(rows), format="xlsx")
    finally:
        workbook.close()


def _xlsx_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[tuple[int, list[str]]]:
    for row_number, values in enumerate(rows, start=2):
        cells = [_text(value) for value in values]
        if any(cells):
            yield row_number, cells


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
