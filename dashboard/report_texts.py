"""Words of the monthly report, its chart, exports and roster upload, per language. Keys start with `report.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {},
    "en": {},
}
