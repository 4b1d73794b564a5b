"""Words shown for codes (statuses, categories, kinds, timeline events, channels) and of the layout. Keys: `show.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {},
    "en": {},
}
