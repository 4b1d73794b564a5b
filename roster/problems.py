"""What can be wrong with a roster: a whole file (unreadable, unknown header) or single cells."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad cell or row. `row` counts as a spreadsheet does: the header is row 1. `column` is the header as the file
    has it, `position` its place (0 = column A) when known; `reason` is in English (`roster.messages` words it for
    the worker)."""

    file: str
    row: int
    column: str
    reason: str  # English
    reason_zh: str = ""  # the same in Chinese, when the reason has been translated
    position: int | None = None  # the column's place in its row, for its Excel letter
    sheet: str | None = None  # named when the workbook has several sheets

    def __str__(self) -> str:
        where = f"sheet {self.sheet!r}, row {self.row}" if self.sheet else f"row {self.row}"
        return f"{self.file}: {where}, column {self.column}: {self.reason}"

    def reason_in(self, language: str) -> str:
        """The reason in `language` ("zh_CN" or "en"), English when no translation was given."""
        return self.reason_zh if language.startswith("zh") and self.reason_zh else self.reason


class RosterFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, wrong format, unknown or missing headers)."""

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


class InvalidCell(ValueError):
    """Raised by the field parsers; the message is the reason shown to the coordinator, in English (`str()`) and in
    Chinese (`zh`, when given). Personal data (an ID-card number) appears in neither except masked."""

    def __init__(self, reason: str, *, zh: str = "") -> None:
        super().__init__(reason)
        self.zh = zh
