"""Keeping the gettext catalogues in step with the code, without Babel.

`python -m carevisit.bot.locales.catalog` adds new msgids (from `_("…")` calls and `MenuButton("…")` captions in `bot/`)
to every `messages.po`, and compiles each `.po` into the `.mo` that aiogram's I18n loads. Both are committed, so
a `pip install` from a clean clone needs no build step; a test fails when a `.mo` is out of date.
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path

LOCALES = Path(__file__).parent
BOT = LOCALES.parent
_MARKERS = {"_", "MenuButton"}


def extract(root: Path = BOT) -> list[str]:
    """Every msgid used in the bot's code, in first-seen order."""
    found: dict[str, None] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _MARKERS
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, None)
    return list(found)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def read_po(path: Path) -> dict[str, str]:
    """msgid → msgstr (the header, msgid "", included)."""
    entries: dict[str, str] = {}
    msgid: str | None = None
    msgstr: str | None = None
    field = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if line.startswith("msgid "):
            if msgid is not None and msgstr is not None:
                entries[msgid] = msgstr
            msgid, msgstr, field = _unquote(line[6:]), None, "id"
        elif line.startswith("msgstr "):
            msgstr, field = _unquote(line[7:]), "str"
        elif line.startswith('"'):
            if field == "id" and msgid is not None:
                msgid += _unquote(line)
            elif field == "str" and msgstr is not None:
                msgstr += _unquote(line)
        elif not line and msgid is not None and msgstr is not None:
            entries[msgid] = msgstr
            msgid = msgstr = field = None
    return entries


def write_po(path: Path, entries: dict[str, str], language: str) -> None:
    header = f"Content-Type: text/plain; charset=UTF-8\nLanguage: {language}\n"
    lines = ['msgid ""', f"msgstr {_quote(header)}", ""]
    for msgid, msgstr in entries.items():
        if msgid:
            lines += [f"msgid {_quote(msgid)}", f"msgstr {_quote(msgstr)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def compile_mo(entries: dict[str, str]) -> bytes:
    """The GNU .mo format (as CPython's Tools/i18n/msgfmt.py writes it); untranslated entries are left out."""
    kept = sorted((k.encode(), v.encode()) for k, v in entries.items() if v)
    ids = b"".join(k + b"\0" for k, _ in kept)
    strs = b"".join(v + b"\0" for _, v in kept)
    count = len(kept)
    key_start = 7 * 4 + 16 * count
    value_start = key_start + len(ids)
    offsets, id_pos, str_pos = [], 0, 0
    for k, v in kept:
        offsets.append((len(k), key_start + id_pos, len(v), value_start + str_pos))
        id_pos += len(k) + 1
        str_pos += len(v) + 1
    output = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    output += b"".join(struct.pack("ii", length, start) for length, start, _, _ in offsets)
    output += b"".join(struct.pack("ii", length, start) for _, _, length, start in offsets)
    return output + ids + strs


def catalogues() -> list[tuple[str, Path]]:
    return [
        (d.name, d / "LC_MESSAGES" / "messages.po") for d in sorted(LOCALES.iterdir()) if (d / "LC_MESSAGES").is_dir()
    ]


def update_all() -> list[str]:
    """Add missing msgids to each .po (untranslated), drop unused ones, compile .mo; returns what is untranslated."""
    used = extract()
    missing: list[str] = []
    for language, po in catalogues():
        old = read_po(po) if po.exists() else {}
        entries = {"": old.get("", "")} | {msgid: old.get(msgid, "") for msgid in used}
        write_po(po, entries, language)
        po.with_suffix(".mo").write_bytes(compile_mo(entries))
        if language != "en":  # English msgids are the English text
            missing += [f"{language}: {m}" for m in used if not entries[m]]
    return missing


if __name__ == "__main__":
    for line in update_all():
        print("untranslated", line)
