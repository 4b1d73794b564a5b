"""The monthly report and the roster upload on a 390-px phone in Debian's Chromium: the chart readable, the CSV
downloaded and parsed; a roster checked, its problems downloaded, fixed and imported."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area
from tests.dashboard.conftest import needs_chromium, sign_in_page
from tests.dashboard.test_report import FORMULA, programme
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv

pytestmark = needs_chromium


async def test_the_report_reads_on_a_phone_and_its_csv_downloads(
    phone,
    server: TestServer,
    session: AsyncSession,
    clock: FakeClock,
    areas: dict[str, Area],
    coordinator_factory,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "district-lead")
    await sign_in_page(phone, server, "district-lead")
    await phone.goto(str(server.make_url("/report?month=2026-03")))

    assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    chart = phone.locator("#rate-chart")
    assert await chart.get_attribute("role") == "img"
    box = await chart.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, "the chart fits the screen"
    smallest = await phone.evaluate(
        "() => Math.min(...[...document.querySelectorAll('#rate-chart text')]"
        ".map(t => t.getBoundingClientRect().height))"
    )
    assert smallest >= 12, f"chart text drawn {smallest:.1f} px high"
    labels = await phone.evaluate(
        "() => [...document.querySelectorAll('#rate-chart text')].filter(t => t.textContent.endsWith('月'))"
        ".map(t => t.getBoundingClientRect())"
    )
    for left, right in itertools.pairwise(labels):  # neighbours never overlap (they alternate rows)
        assert left["right"] <= right["left"] or left["bottom"] <= right["top"] or right["bottom"] <= left["top"]

    async with phone.expect_download() as waiting:
        await phone.locator("#download-csv-organisation").click()
    download = await waiting.value
    assert download.suggested_filename == "南山区2026-03探访月报-按服务机构.csv"
    saved = tmp_path / "report.csv"
    await download.save_as(saved)
    lines = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert lines[0][0] == "组织名称" and lines[1][0] == "'" + FORMULA


async def test_an_admin_uploads_a_roster_on_a_phone_fixes_the_bad_row_and_imports_it(
    phone, server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "admin", role=CoordinatorRole.ADMIN)
    await sign_in_page(phone, server, "admin")
    await phone.goto(str(server.make_url("/admin/roster")))
    bad = write_csv(tmp_path / "南山区名单.csv", ELDER_HEADER_ZH, [elder_row("E001"), elder_row("E002", phone="12")])
    await phone.get_by_label("选择文件").set_input_files(str(bad))
    await phone.get_by_role("button", name="上传并检查").click()
    await phone.wait_for_url("**/admin/roster/*")
    assert "第3行 E列（电话）" in await phone.locator("#roster-problem-list").inner_text()
    assert "南山区名单.csv 有 1 个问题" in await phone.locator("#roster-summary").inner_text()
    assert await phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    async with phone.expect_download() as waiting:
        await phone.locator("#roster-problems").click()
    assert (await waiting.value).suggested_filename == "南山区名单.问题.xlsx"

    good = write_csv(tmp_path / "南山区名单.csv", ELDER_HEADER_ZH, [elder_row("E001"), elder_row("E002")])
    await phone.get_by_role("link", name="重新上传").click()
    await phone.get_by_label("选择文件").set_input_files(str(good))
    await phone.get_by_role("button", name="上传并检查").click()
    await phone.wait_for_url("**/admin/roster/*")
    await phone.locator("#roster-confirm").click()
    await phone.wait_for_load_state()
    assert "新增 2" in await phone.locator("#roster-done").inner_text()
