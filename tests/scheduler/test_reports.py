"""Monthly reports: the rate and its parts by area, organisation and volunteer; safe CSV and Excel."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.visit_rate import visit_rate
from carevisit.reports.export import neutralise, to_csv, to_xlsx
from carevisit.reports.history import ClosedMonths, months_ending, rate_history
from carevisit.reports.monthly import ReportBy, monthly_report
from carevisit.storage.enums import ElderStatus, VisitKind, VisitStatus
from tests.factories import make_area_tree, make_elder, make_organisation, make_visit, make_volunteer
from tests.scheduler.conftest import SHANGHAI


async def programme(session: AsyncSession, clock: FakeClock) -> dict[str, object]:
    areas = await make_area_tree(session)
    org = await make_organisation(session, name='=HYPERLINK("http://x")社工')
    a = await make_volunteer(session, clock, communities=[areas["community"]], organisation_id=org.id, name="@张")
    b = await make_volunteer(session, clock, communities=[areas["community2"]])
    e1 = await make_elder(session, clock, community=areas["community"])
    e2 = await make_elder(session, clock, community=areas["community2"])
    e3 = await make_elder(session, clock, community=areas["other_community"])
    await make_elder(session, clock, community=areas["community"], consent=False)
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.MOVED)
    # e1: done on the last day of its window, 23:30 Shanghai (15:30 UTC): on time.
    await make_visit(
        session,
        clock,
        elder=e1,
        volunteer_id=a.id,
        status=VisitStatus.DONE,
        done_by_volunteer_id=a.id,
        window_end=date(2026, 3, 15),
        done_at=datetime(2026, 3, 15, 15, 30, tzinfo=UTC),
    )
    # e2: done at 00:30 Shanghai on the 16th (still the 15th in UTC): late.
    await make_visit(
        session,
        clock,
        elder=e2,
        volunteer_id=b.id,
        status=VisitStatus.DONE,
        done_by_volunteer_id=b.id,
        window_end=date(2026, 3, 15),
        done_at=datetime(2026, 3, 15, 16, 30, tzinfo=UTC),
    )
    await make_visit(session, clock, elder=e2, slot=2, volunteer_id=b.id, status=VisitStatus.MISSED)
    # e3: an extra visit done in its window but after its deadline (late); one unassigned, one cancelled.
    await make_visit(
        session,
        clock,
        elder=e3,
        slot=101,
        kind=VisitKind.EXTRA,
        status=VisitStatus.DONE,
        done_at=datetime(2026, 3, 10, 6, 0, tzinfo=UTC),
        deadline_at=datetime(2026, 3, 10, 4, 0, tzinfo=UTC),
        volunteer_id=a.id,
        done_by_volunteer_id=a.id,
    )
    await make_visit(session, clock, elder=e3)
    await make_visit(session, clock, elder=e3, slot=2, status=VisitStatus.CANCELLED)
    await session.commit()
    return {"areas": areas, "a": a, "b": b, "org": org}


async def test_by_area_breaks_the_rate_down_by_child_area_and_the_total_is_the_one_definition(
    session: AsyncSession, clock: FakeClock
) -> None:
    world = await programme(session, clock)
    areas = world["areas"]
    report = await monthly_report(session, month="2026-03", area=areas["district"], by=ReportBy.AREA, zone=SHANGHAI)  # type: ignore[index]
    rows = {row.name: row.counts for row in report.rows}
    assert list(rows) == ["粤海街道", "沙河街道"]
    yuehai, shahe = rows["粤海街道"], rows["沙河街道"]
    assert (yuehai.elders, yuehai.consenting, yuehai.visited) == (4, 2, 2)
    assert (yuehai.planned, yuehai.done, yuehai.on_time, yuehai.missed, yuehai.unassigned) == (3, 2, 1, 1, 0)
    assert (shahe.planned, shahe.done, shahe.on_time, shahe.unassigned) == (2, 1, 0, 1)
    headline = await visit_rate(session, month="2026-03", area=areas["district"])  # type: ignore[index]
    assert (
        (report.total.counts.consenting, report.total.counts.visited) == (headline.eligible, headline.visited) == (3, 3)
    )
    assert report.total.counts.planned == 5


async def test_by_organisation_and_by_volunteer_show_who_did_the_work_and_what_is_unassigned(
    session: AsyncSession, clock: FakeClock
) -> None:
    world = await programme(session, clock)
    district = world["areas"]["district"]  # type: ignore[index]
    by_org = await monthly_report(session, month="2026-03", area=district, by=ReportBy.ORGANISATION, zone=SHANGHAI)
    named = {row.name: row.counts for row in by_org.rows}
    assert named[world["org"].name].done == 2  # type: ignore[attr-defined]
    assert named["（无所属组织）"].done == 1
    assert named["（未分配）"].unassigned == 1
    by_volunteer = await monthly_report(session, month="2026-03", area=district, by=ReportBy.VOLUNTEER, zone=SHANGHAI)
    codes = {row.code: row.counts for row in by_volunteer.rows}
    a = codes[world["a"].external_id]  # type: ignore[attr-defined]
    assert (a.elders, a.visited, a.done, a.on_time) == (2, 2, 2, 1)


async def test_exports_have_chinese_headers_and_never_a_live_formula(session: AsyncSession, clock: FakeClock) -> None:
    world = await programme(session, clock)
    district = world["areas"]["district"]  # type: ignore[index]
    report = await monthly_report(session, month="2026-03", area=district, by=ReportBy.ORGANISATION, zone=SHANGHAI)
    lines = list(csv.reader(io.StringIO(to_csv(report).lstrip("\ufeff"))))
    assert lines[0][:2] == ["组织名称", "老人数"], "an organisation's database id is nobody's business"
    assert any(cell.startswith("'=HYPERLINK") for line in lines for cell in line)
    assert lines[-1][0].startswith("合计")

    sheet = load_workbook(io.BytesIO(to_xlsx(report))).active
    assert sheet is not None
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "月探访率" in values and '\'=HYPERLINK("http://x")社工' in values
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    rate = sheet.cell(row=2, column=[c.value for c in sheet[1]].index("月探访率") + 1)
    assert isinstance(rate.value, int | float) and rate.number_format == "0.0%"


def test_neutralise_leaves_ordinary_text_and_numbers_alone() -> None:
    assert [neutralise(v) for v in ("张三", "=1+1", "+86", "-5", "@x", 7)] == ["张三", "'=1+1", "'+86", "'-5", "'@x", 7]
    assert [neutralise(v) for v in ("a=b", "张 -", "", 0.5, None)] == ["a=b", "张 -", "", 0.5, None]


@pytest.mark.parametrize(
    "text",
    ["\tx", "\rx", "\nx", " =1+1", "  +1", "\t=cmd", "\u3000=cmd", "\u00a0@SUM(A1)", "\n-2", "＝1+1", "＠x"],
)
def test_neutralise_catches_formulas_behind_whitespace_and_full_width_signs(text: str) -> None:
    assert neutralise(text) == "'" + text


async def test_a_community_has_no_children_and_reports_as_one_row(session: AsyncSession, clock: FakeClock) -> None:
    world = await programme(session, clock)
    community = world["areas"]["community"]  # type: ignore[index]
    report = await monthly_report(session, month="2026-03", area=community, by=ReportBy.AREA, zone=SHANGHAI)
    assert [row.name for row in report.rows] == ["科技园社区"]
    counts = report.rows[0].counts
    assert (counts.elders, counts.consenting, counts.visited, counts.rate.percent) == (3, 1, 1, "100.0%")


def test_a_report_of_last_month_read_on_the_first_says_it_can_still_change() -> None:
    from carevisit.reports.monthly import late_confirmations_note

    assert late_confirmations_note("2026-03", today=date(2026, 4, 1)) == (
        "2026-03 的探访今天内仍可补确认（计入 2026-03），数据自 4月2日 起为最终数据。"
    )
    assert late_confirmations_note("2026-12", today=date(2027, 1, 1)) is not None  # across a year
    assert late_confirmations_note("2026-03", today=date(2026, 4, 2)) is None  # final
    assert late_confirmations_note("2026-04", today=date(2026, 4, 1)) is None  # this month: still running anyway


async def test_closed_months_are_kept_for_the_chart_and_the_open_month_is_always_read(
    session: AsyncSession, clock: FakeClock
) -> None:
    world = await programme(session, clock)
    district = world["areas"]["district"]  # type: ignore[index]
    closed = ClosedMonths(lifetime=timedelta(hours=1))
    today, months = date(2026, 4, 10), ["2026-03", "2026-04"]
    first = await rate_history(session, area=district, months=months, today=today, now=clock.now(), closed=closed)
    assert [rate.visited for _, rate in first] == [3, 0]
    # Another visit done (the register changing under a closed month is shown after the lifetime only).
    e4 = await make_elder(session, clock, community=world["areas"]["community"])  # type: ignore[index]
    await make_visit(session, clock, elder=e4, status=VisitStatus.DONE, month="2026-04")
    await make_visit(session, clock, elder=e4, status=VisitStatus.DONE, month="2026-03")
    await session.commit()
    again = await rate_history(session, area=district, months=months, today=today, now=clock.now(), closed=closed)
    assert [rate.visited for _, rate in again] == [3, 1], "March from the cache, April read again"
    later = await rate_history(
        session, area=district, months=months, today=today, now=clock.now() + timedelta(hours=2), closed=closed
    )
    assert [rate.visited for _, rate in later] == [4, 1]
    assert [month for month, _ in later] == months == months_ending("2026-04", 2)


async def test_closed_months_counted_for_one_area_serve_the_chart_of_any_other(
    session: AsyncSession, clock: FakeClock
) -> None:
    world = await programme(session, clock)
    areas = world["areas"]
    district, street = areas["district"], areas["street"]  # type: ignore[index]
    closed = ClosedMonths(lifetime=timedelta(hours=1))
    today, months = date(2026, 4, 10), ["2026-03"]
    street_before = await visit_rate(session, month="2026-03", area=street)
    await rate_history(session, area=district, months=months, today=today, now=clock.now(), closed=closed)
    # A March visit done now, in the street: the street's chart is summed from what the district's counted.
    late = await make_elder(session, clock, community=areas["community"])  # type: ignore[index]
    await make_visit(session, clock, elder=late, status=VisitStatus.DONE, month="2026-03")
    await session.commit()
    [(_, kept)] = await rate_history(session, area=street, months=months, today=today, now=clock.now(), closed=closed)
    assert (kept.eligible, kept.visited) == (street_before.eligible, street_before.visited) == (2, 2)
    later = clock.now() + timedelta(hours=2)
    [(_, fresh)] = await rate_history(session, area=street, months=months, today=today, now=later, closed=closed)
    now_rate = await visit_rate(session, month="2026-03", area=street)
    assert (fresh.eligible, fresh.visited) == (now_rate.eligible, now_rate.visited) == (3, 3)
