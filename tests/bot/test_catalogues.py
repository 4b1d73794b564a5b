"""The gettext catalogues: every text the bot can say is translated to Chinese, and the committed .mo files
match their .po sources (so a pip install from a clean clone has working catalogues)."""

from __future__ import annotations

import gettext

import pytest

from carevisit.bot.locales.catalog import catalogues, compile_mo, extract, read_po


def test_every_msgid_in_the_code_has_a_chinese_translation() -> None:
    chinese = read_po(dict(catalogues())["zh_CN"])
    untranslated = [msgid for msgid in extract() if not chinese.get(msgid)]
    assert untranslated == []


@pytest.mark.parametrize(("language", "po"), catalogues())
def test_the_committed_mo_is_compiled_from_the_po(language: str, po) -> None:  # type: ignore[no-untyped-def]
    entries = read_po(po)
    fix = f"{language}: run `python -m carevisit.bot.locales.catalog`"
    assert set(extract()) <= set(entries), fix
    assert po.with_suffix(".mo").read_bytes() == compile_mo(entries), fix


def test_the_compiled_catalogue_reads_back() -> None:
    with (dict(catalogues())["zh_CN"].with_suffix(".mo")).open("rb") as mo:
        assert gettext.GNUTranslations(mo).gettext("My visits") == "我的探访"
