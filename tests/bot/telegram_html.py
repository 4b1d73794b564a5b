"""Telegram's HTML `parse_mode`, as its server parses it (tdlib's `parse_html`): the text a user reads and its
entities, or the error Telegram answers with. The fake Bot API server uses it to refuse what Telegram refuses.

Only Telegram's tags are allowed; `&lt; &gt; &amp; &quot;` and numeric entities are decoded, any other `&` is
text; a `<` always opens a tag, so an unescaped `<` in a name is refused ("Unsupported start tag"). Offsets in
errors are in bytes of the UTF-8 source, entity offsets in UTF-16 code units, as Telegram counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ENTITY_TYPES = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]{1,8})|#([0-9]{1,8})|([a-zA-Z]+));")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")


class HtmlError(ValueError):
    """What Telegram says after "Bad Request: can't parse entities: "."""


@dataclass
class _Open:
    tag: str
    start: int  # UTF-16 offset in the output
    attributes: dict[str, str] = field(default_factory=dict)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and the entities of `source`; HtmlError with Telegram's wording when it refuses it."""
    out: list[str] = []
    length = 0  # of the output so far, in UTF-16 units
    entities: list[dict[str, Any]] = []
    nested: list[_Open] = []
    i, n = 0, len(source)

    def at(index: int) -> int:
        return len(source[:index].encode())

    while i < n:
        char = source[i]
        if char == "&":
            decoded, end = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded)
                length += utf16_length(decoded)
                i = end
                continue
        if char != "<":
            out.append(char)
            length += utf16_length(char)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and source[i] == "/":
            if not nested:
                raise HtmlError(f"Unexpected end tag at byte offset {at(begin)}")
            j = i + 1
            while j < n and not source[j].isspace() and source[j] != ">":
                j += 1
            name = source[i + 1 : j].lower()
            while j < n and source[j].isspace():
                j += 1
            if j >= n or source[j] != ">":
                raise HtmlError(f"Unclosed end tag at byte offset {at(begin)}")
            opened = nested.pop()
            if name and name != opened.tag:
                raise HtmlError(
                    f'Unmatched end tag at byte offset {at(begin)}, expected "</{opened.tag}>", found "</{name}>"'
                )
            if length > opened.start and (opened.tag != "a" or opened.attributes.get("href")):
                entities.append(_entity(opened, length))  # Telegram drops empty entities and links to nowhere
            i = j + 1
            continue
        j = i
        while j < n and not source[j].isspace() and source[j] != ">":
            j += 1
        if j >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {at(begin)}")
        name = source[i:j].lower()
        if name not in ENTITY_TYPES:
            raise HtmlError(f'Unsupported start tag "{name}" at byte offset {at(begin)}')
        attributes, i = _attributes(source, j, name, at(begin))
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {at(begin)}')
        nested.append(_Open(name, length, attributes))
    if nested:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{nested[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode_entity(source: str, i: int) -> tuple[str | None, int]:
    match = _ENTITY.match(source, i)
    if match is None:
        return None, i
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        return (_NAMED[name], match.end()) if name in _NAMED else (None, i)
    code = int(hexadecimal, 16) if hexadecimal is not None else int(decimal)
    if code == 0 or code >= 0x110000 or 0xD800 <= code <= 0xDFFF:
        return None, i
    return chr(code), match.end()


def _attributes(source: str, i: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """The tag's attributes from `i` (after its name) to its `>`; returns them and the index after `>`."""
    n = len(source)
    found: dict[str, str] = {}
    while True:
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if source[i] == ">":
            return found, i + 1
        start = i
        while i < n and not source[i].isspace() and source[i] not in "=>":
            i += 1
        name = source[start:i].lower()
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while i < n and source[i].isspace():
            i += 1
        if i >= n or source[i] != "=":
            if tag == "blockquote" and name == "expandable":
                found[name] = ""
                continue
            raise HtmlError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {begin}'
            )
        i += 1
        while i < n and source[i].isspace():
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if source[i] in "'\"":
            quote, i = source[i], i + 1
            value: list[str] = []
            while i < n and source[i] != quote:
                decoded, end = _decode_entity(source, i) if source[i] == "&" else (None, i)
                if decoded is not None:
                    value.append(decoded)
                    i = end
                else:
                    value.append(source[i])
                    i += 1
            i += 1  # past the closing quote (or the end, caught next round)
            found[name] = "".join(value)
        else:
            token = _NAME_TOKEN.match(source, i)
            assert token is not None
            i = token.end()
            if i < n and not source[i].isspace() and source[i] != ">":
                raise HtmlError(f"Unexpected end of name token at byte offset {len(source[: token.start()].encode())}")
            found[name] = token.group(0).lower()


def _entity(opened: _Open, end: int) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": ENTITY_TYPES[opened.tag], "offset": opened.start, "length": end - opened.start}
    if opened.tag == "a":
        entity["url"] = opened.attributes["href"]
    if opened.tag == "tg-emoji":
        entity["custom_emoji_id"] = opened.attributes.get("emoji-id", "")
    if opened.tag == "blockquote" and "expandable" in opened.attributes:
        entity["type"] = "expandable_blockquote"
    return entity
