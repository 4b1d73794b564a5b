"""XML from WeCom's callback, parsed with no way to declare or expand an entity.

The callback envelope arrives before anything is authenticated, so its parser is attack surface. expat (what
xml.etree uses) still expands internal entities a document declares ("billion laughs" is only damped by expat's
amplification limit) and resolves external ones when asked; defusedxml's answer is to forbid the declarations. We do
the same with the standard library instead of a new dependency: a DOCTYPE is refused outright, so no entity can be
declared, and an undeclared reference (``&x;``) is an expat error. WeCom never sends a DOCTYPE.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat


class UnsafeXml(ValueError):
    """The text is not well-formed XML, or it carries a DOCTYPE or an entity declaration."""


def _refuse_doctype(*_: object) -> None:
    raise UnsafeXml("a DOCTYPE is not accepted")


def _refuse_entity(*_: object) -> None:
    raise UnsafeXml("an entity declaration is not accepted")


def _refuse_external(*_: object) -> int:
    raise UnsafeXml("an external entity is not accepted")


def parse(text: str | bytes) -> ET.Element:
    """The root element of ``text``; raises UnsafeXml."""
    data = text.encode() if isinstance(text, str) else text
    builder = ET.TreeBuilder()
    # The encoding is fixed: a declaration naming another one must not change how the bytes are read.
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except expat.ExpatError as exc:
        raise UnsafeXml(f"not well-formed XML: {expat.errors.messages[exc.code]}") from None
