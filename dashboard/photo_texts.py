"""The words around photos on the dashboard's pages (prefix `photo.`)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "photo.column": "照片",
        "photo.open": "查看照片",
        "photo.alt": "探访照片",
        "photo.problem_alt": "问题照片",
        "photo.in_telegram": "照片在 Telegram 中",
        "photo.not_found": "找不到该照片。",
    },
    "en": {
        "photo.column": "Photo",
        "photo.open": "Open the photo",
        "photo.alt": "Visit photo",
        "photo.problem_alt": "Problem photo",
        "photo.in_telegram": "Photo kept in Telegram",
        "photo.not_found": "No such photo.",
    },
}
