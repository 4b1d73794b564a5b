"""Words of coordinator accounts, sign-in and the admin page, per language. Keys start with `acct.`."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {},
    "en": {},
}
