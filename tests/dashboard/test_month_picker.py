"""The month picker speaks the dashboard's language, worded by the server: a browser's month box showed
"December 2026" on a Chinese page because the browser's interface was English."""

from __future__ import annotations

import re
from datetime import date

import pytest
from aiohttp.test_utils import TestServer

from carevisit.dashboard.months import month_choices
from carevisit.dashboard.texts import translator
from carevisit.storage.models import Area
from tests.dashboard.conftest import sign_in


def _options(page: str) -> list[tuple[str, bool, str]]:
    found = re.findall(r'<option value="(\d{4}-\d{2})"( selected)?>([^<]+)</option>', page)
    return [(value, bool(selected), words) for value, selected, words in found]


async def test_the_month_picker_offers_months_in_chinese_words(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "district-lead")
    async with await sign_in(server, "district-lead") as client:
        overview = await (await client.get("/")).text()
        old = await (await client.get("/report", params={"month": "2023-07"})).text()
        resolved = await (await client.get("/incidents", params={"status": "resolved", "month": "2026-02"})).text()
    assert 'type="month"' not in overview + old + resolved
    assert ("2026-03", True, "2026年3月") in _options(overview)  # the test clock's month, chosen
    assert ("2026-05", False, "2026年5月") in _options(overview) and ("2024-03", False, "2024年3月") in _options(
        overview
    )
    assert ("2023-07", True, "2023年7月") in _options(old)  # an old month stays choosable and chosen
    assert ("2026-02", True, "2026年2月") in _options(resolved)


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_in_english_the_months_are_english_words(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "district-lead")
    async with await sign_in(server, "district-lead") as client:
        overview = await (await client.get("/")).text()
    assert ("2026-03", True, "March 2026") in _options(overview)


def test_the_choices_run_from_two_years_back_to_two_months_on_newest_first() -> None:
    choices = month_choices(translator("zh_CN"), "2026-12", today=date(2026, 12, 2))
    values = [value for value, _words in choices]
    assert values[0] == "2027-02" and values[-1] == "2024-12" and len(values) == 27
    assert values == sorted(values, reverse=True)
    assert dict(choices)["2027-01"] == "2027年1月"
