"""Cells for spreadsheets: no text a spreadsheet would run as a formula (CSV injection).

Excel, LibreOffice and WPS start a formula at = + - @, also after leading spaces or line breaks, and the full-width
forms typed with a Chinese input method; a tab or CR at the start can smuggle one in too. Such text gets a leading
apostrophe, which both show as text. Shared by every export: reports, incident archives, roster problems.
"""

from __future__ import annotations

from typing import Any

_STARTS = ("=", "+", "-", "@", "＝", "＋", "－", "＠")
_CONTROL = ("\t", "\r", "\n")
# What spreadsheets skip before looking for a formula sign: spaces of every width, and line breaks.
_BLANKS = " \t\r\n\u00a0\u3000"


def neutralise(value: Any) -> Any:
    """Text that could start a formula is prefixed with ' ; numbers, dates and ordinary text are left alone."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_CONTROL) or value.lstrip(_BLANKS).startswith(_STARTS):
        return "'" + value
    return value
