"""Words of the people pages (not visited, elder page, assigning, area lists, incidents). Keys: `people.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {},
    "en": {},
}
