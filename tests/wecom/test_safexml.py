"""The callback's XML parser declares nothing and expands nothing: each guard is refused on its own."""

from __future__ import annotations

import pytest

from carevisit.wecom import safexml


def test_cdata_and_the_predefined_entities_parse() -> None:
    root = safexml.parse("<xml><A><![CDATA[a&b<c>]]></A><B>&lt;&amp;&#65;</B></xml>")
    assert [root.findtext("A"), root.findtext("B")] == ["a&b<c>", "<&A"]


def test_a_doctype_is_refused_even_without_entities() -> None:
    with pytest.raises(safexml.UnsafeXml, match="DOCTYPE"):
        safexml.parse("<!DOCTYPE xml><xml/>")


def test_an_external_dtd_is_refused() -> None:
    with pytest.raises(safexml.UnsafeXml, match="DOCTYPE"):
        safexml.parse('<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml/>')


def test_an_undeclared_entity_is_an_error_not_text() -> None:
    with pytest.raises(safexml.UnsafeXml, match="undefined entity"):
        safexml.parse("<xml>&ent;</xml>")


def test_a_declared_encoding_does_not_change_how_bytes_are_read() -> None:
    root = safexml.parse('<?xml version="1.0" encoding="GBK"?><xml>探访</xml>'.encode())
    assert root.text == "探访"


@pytest.mark.parametrize("text", ["", "<xml>", "<xml></other>", "text"])
def test_what_is_not_well_formed_is_refused(text: str) -> None:
    with pytest.raises(safexml.UnsafeXml):
        safexml.parse(text)
