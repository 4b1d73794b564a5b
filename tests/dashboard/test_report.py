"""The monthly report in the dashboard over real HTTP: chart, figures, reasons, downloads, area scoping."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime
from urllib.parse import unquote

import pytest
from aiohttp.test_utils import TestServer
from openpyxl import load_workbook
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import CoordinatorRole, ElderStatus, VisitStatus
from carevisit.storage.models import Area
from tests.dashboard.conftest import sign_in
from tests.factories import make_elder, make_organisation, make_visit, make_volunteer

FORMULA = "=cmd|' /C calc'!A0"


async def programme(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> None:
    """March 2026 in 南山区: 粤海 2 of 3 visited, 沙河 0 of 1; reasons apart; January 1 of 4 (25%)."""
    org = await make_organisation(session, name=FORMULA)
    worker = await make_volunteer(
        session, clock, communities=[areas["community"]], organisation_id=org.id, name="@张", external_id="V-001"
    )
    e1 = await make_elder(session, clock, community=areas["community"])
    e2 = await make_elder(session, clock, community=areas["community2"])
    await make_elder(session, clock, community=areas["community"])  # to visit, not visited
    await make_elder(session, clock, community=areas["other_community"])
    await make_elder(session, clock, community=areas["community"], consent=False)
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.PAUSED)
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.MOVED)
    await make_elder(session, clock, community=areas["other_community"], status=ElderStatus.DECEASED)
    # Done at 23:30 Shanghai on the last day of its window (15:30 UTC): on time, shown in local time.
    await make_visit(
        session,
        clock,
        elder=e1,
        volunteer_id=worker.id,
        done_by_volunteer_id=worker.id,
        status=VisitStatus.DONE,
        window_end=date(2026, 3, 15),
        done_at=datetime(2026, 3, 15, 15, 30, tzinfo=UTC),
    )
    await make_visit(
        session,
        clock,
        elder=e2,
        volunteer_id=worker.id,
        done_by_volunteer_id=worker.id,
        status=VisitStatus.DONE,
        window_end=date(2026, 3, 15),
        done_at=datetime(2026, 3, 16, 2, 0, tzinfo=UTC),  # the 16th: late
    )
    await make_visit(
        session,
        clock,
        elder=e1,
        month="2026-01",
        status=VisitStatus.DONE,
        window_start=date(2026, 1, 1),
        window_end=date(2026, 1, 31),
        done_at=datetime(2026, 1, 20, 2, 0, tzinfo=UTC),
    )
    await session.commit()


def cells_of(page: str, table_id: str) -> list[list[str]]:
    """A table's rows as the text of their cells."""
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    assert body, f"no table {table_id}"
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    cells = (re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in rows)
    return [[html.unescape(re.sub(r"<[^>]+>|\s+", " ", cell)).strip() for cell in row] for row in cells]


async def test_the_report_page_charts_twelve_months_and_counts_who_was_not_visited_and_why(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    try:
        response = await client.get("/report?month=2026-03")
        page = await response.text()
        street = await (await client.get("/report?area=440305001&month=2026-03")).text()
    finally:
        await client.close()
    assert response.status == 200
    assert re.search(r'id="report-rate">\s*50\.0%', page)  # 2 of the 4 consenting, active elders
    svg = re.search(r"<svg[^>]*viewBox[^>]*>.*?</svg>", page, re.S)
    assert svg and 'width="100%"' in svg.group(0) and "<title" in svg.group(0)
    assert svg.group(0).count('class="bar"') == 12
    labels = re.findall(r"<text[^>]*>(\d+月)</text>", svg.group(0))
    assert labels == [f"{n}月" for n in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]
    months = {row[0]: row[1:] for row in cells_of(page, "chart-table")[1:]}
    assert months["2026-01"] == ["4", "1", "25.0%"] and months["2026-03"] == ["4", "2", "50.0%"]
    assert months["2025-04"] == ["4", "0", "0.0%"]
    assert "2026-01：25.0%" in svg.group(0), "each bar names its figure"
    assert re.search(r'id="unvisited">\s*2', page) and re.search(r'id="no-consent">\s*1', page)
    assert re.search(r'id="paused">\s*1', page) and re.search(r'id="left">\s*2', page)
    assert "/not-visited?area=440305&amp;month=2026-03" in page
    assert "计划探访 2 次，已完成 2 次，其中按时 1 次（50.0%）" in page
    by_area = cells_of(page, "by-area")
    assert by_area[1][:4] == ["粤海街道", "3", "2", "66.7%"] and by_area[2][:4] == ["沙河街道", "1", "0", "0.0%"]
    assert by_area[1][-1] == "2026-03-16 10:00", "the latest visit, in local time"
    organisations = cells_of(page, "by-organisation")
    assert organisations[1] == [FORMULA, "2", "50.0%", "2", "2026-03-16 10:00"]
    assert 'id="by-volunteer-later"' in page, "a district's volunteers are listed from the street down"
    assert cells_of(street, "by-volunteer")[1][:3] == ["V-001", "@张", "2"]
    assert 'href="/report.csv?area=440305&amp;month=2026-03&amp;by=organisation"' in page


async def test_by_area_descends_past_levels_with_a_single_child(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["province"], "province-lead")  # 广东省 > 深圳市 > 南山区 > two streets
    client = await sign_in(server, "province-lead")
    try:
        page = await (await client.get("/report?month=2026-03")).text()
    finally:
        await client.close()
    assert [row[0] for row in cells_of(page, "by-area")[1:]] == ["粤海街道", "沙河街道"]


async def test_downloads_parse_with_percent_cells_local_times_and_no_live_formula(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    try:
        as_csv = await client.get("/report.csv?area=440305&month=2026-03&by=organisation")
        text = (await as_csv.read()).decode("utf-8")
        as_xlsx = await client.get("/report.xlsx?area=440305&month=2026-03&by=volunteer")
        book = load_workbook(io.BytesIO(await as_xlsx.read()))
    finally:
        await client.close()
    assert as_csv.status == 200 and as_csv.content_type == "text/csv"
    disposition = as_csv.headers["Content-Disposition"]
    chinese = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert chinese and unquote(chinese.group(1)) == "南山区2026-03探访月报-按服务机构.csv"
    assert 'filename="report-440305-2026-03-organisation.csv"' in disposition
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, first = lines[0], dict(zip(lines[0], lines[1], strict=True))
    assert header[0] == "组织名称" and first["组织名称"] == "'" + FORMULA
    assert first["月探访率"] == "100.0%" and first["按时完成率"] == "50.0%"
    assert first["最近完成探访"] == "2026-03-16 10:00"
    assert lines[-1][0] == "合计：南山区" and lines[-1][header.index("月探访率")] == "50.0%"

    assert as_xlsx.status == 200 and "spreadsheetml" in as_xlsx.content_type
    sheet = book.active
    assert sheet is not None
    heads = [cell.value for cell in sheet[1]]
    row = {head: cell for head, cell in zip(heads, sheet[2], strict=True)}
    assert row["志愿者名称"].value == "'@张" and row["志愿者代码"].value == "V-001"
    assert row["月探访率"].value == 1 and row["月探访率"].number_format == "0.0%"
    assert row["按时完成率"].value == 0.5 and row["按时完成率"].number_format == "0.0%"
    assert row["最近完成探访"].value.isoformat() == "2026-03-16T10:00:00", "Excel has no zones: the local time"
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)


async def test_another_areas_report_and_downloads_are_not_found_and_bad_input_is_refused(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["street"], "yuehai")
    client = await sign_in(server, "yuehai")
    try:
        for path in ("/report", "/report.csv", "/report.xlsx"):
            for area in ("440305002", "440305", "nowhere"):
                response = await client.get(f"{path}?area={area}&month=2026-03")
                assert response.status == 404, (path, area)
                assert "华侨城" not in await response.text()
        assert (await client.get("/report?month=2026-13")).status == 400
        for odd in ("0000-01", "9999-12", "2026-1", "2026-03x", "%00"):
            assert (await client.get(f"/report?month={odd}")).status in (200, 400), odd
        assert (await client.get("/report.csv?month=March")).status == 400
        bad_by = await client.get("/report.xlsx?by=elder")
        assert bad_by.status == 400 and "area、organisation" in await bad_by.text()
        mine = await client.get("/report.csv?area=440305001001&month=2026-03")
        assert mine.status == 200 and "科技园社区" in (await mine.read()).decode()
    finally:
        await client.close()


async def test_a_viewer_reads_the_report_and_downloads_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "auditor", role=CoordinatorRole.VIEWER)
    client = await sign_in(server, "auditor")
    try:
        assert (await client.get("/report?month=2026-03")).status == 200
        assert (await client.get("/report.xlsx?month=2026-03")).status == 200
    finally:
        await client.close()


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_the_report_reads_in_english_with_no_codes(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    try:
        page = await (await client.get("/report?month=2026-03")).text()
        csv_name = (await client.get("/report.csv?month=2026-03")).headers["Content-Disposition"]
    finally:
        await client.close()
    assert "Visit rate" in page and "By organisation" in page and "Not visited this month" in page
    labels = re.findall(r"<text[^>]*>([A-Z][a-z]{2})</text>", page)
    assert labels[0] == "Apr" and labels[-1] == "Mar"
    assert not re.search(r">[^<]*report\.[a-z_]+", page), "no catalogue key shows through"
    assert unquote(csv_name.split("''")[1]) == "南山区 2026-03 visit report - By area.csv"


async def test_last_months_report_read_on_the_first_says_it_can_still_change(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await programme(session, clock, areas)
    await coordinator_factory(areas["district"], "district-lead")
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    client = await sign_in(server, "district-lead")
    try:
        march = await (await client.get("/report?month=2026-03")).text()
        april = await (await client.get("/report?month=2026-04")).text()
    finally:
        await client.close()
    assert 'id="late-confirmations"' in march and "2026-03 的探访今天内仍可补确认" in march
    assert 'id="late-confirmations"' not in april
