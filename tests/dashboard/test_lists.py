"""The lists follow the area in view, over HTTP: a community's page lists its own elders, breadcrumbs lead back up
to the coordinator's own area, "not visited this month" shows who is waiting longest, incidents stay findable."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.area_rates import area_rates
from carevisit.care.clock import FakeClock
from carevisit.care.not_visited import not_visited, not_visited_reasons
from carevisit.care.visit_rate import visit_rate
from carevisit.storage.enums import ElderStatus, IncidentStatus, RiskLevel, VisitKind, VisitMode, VisitStatus
from carevisit.storage.models import Area, Elder, Incident
from tests.conftest import SHANGHAI
from tests.dashboard.conftest import sign_in
from tests.factories import make_elder, make_visit, make_volunteer

TODAY = date(2026, 3, 10)


def _rows(page: str, table: str) -> list[str]:
    """The text of each body row of a table, tags stripped."""
    body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("</tr>")[:-1]]


async def _done(session: AsyncSession, clock: FakeClock, elder: Elder, on: datetime, **overrides) -> None:  # type: ignore[no-untyped-def]
    month = f"{on.year:04d}-{on.month:02d}"
    await make_visit(
        session,
        clock,
        elder=elder,
        month=month,
        window_start=on.date().replace(day=1),
        window_end=on.date(),
        status=VisitStatus.DONE,
        done_at=on,
        **overrides,
    )


async def test_a_community_page_lists_only_its_own_elders(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    here = await make_elder(session, clock, community=areas["community"], name="本社区老人")
    beside = await make_elder(session, clock, community=areas["community2"], name="隔壁社区老人")
    for elder in (here, beside):  # overdue (window ended) and unassigned
        await make_visit(session, clock, elder=elder, window_end=date(2026, 3, 5))
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as client:
        for path in ("/overdue", "/unassigned", "/not-visited"):
            street = await (await client.get(path)).text()
            assert "本社区老人" in street and "隔壁社区老人" in street, path
            community = await (await client.get(f"{path}?area={areas['community'].code}&month=2026-03")).text()
            assert "本社区老人" in community and "隔壁社区老人" not in community, path
            assert f'href="/elders/{here.id}"' in community
            for outside in (areas["other_community"].code, areas["district"].code, "nowhere"):
                response = await client.get(f"{path}?area={outside}")
                assert response.status == 404, (path, outside)
            for odd in ("2026-13", "0000-01", "9999-12", "２０２６-03"):  # no year a date can be made of: 400, not 500
                assert (await client.get(f"{path}?month={odd}")).status == 400, (path, odd)


async def test_breadcrumbs_lead_back_up_to_the_coordinators_own_area_and_no_higher(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "district-lead")
    async with await sign_in(server, "district-lead") as client:
        page = await (await client.get(f"/not-visited?area={areas['community'].code}&month=2026-02")).text()
        top = await (await client.get("/not-visited")).text()
    crumbs = page.split('<nav class="breadcrumbs"', 1)[1].split("</nav>", 1)[0]
    assert f'href="/not-visited?area={areas["district"].code}&amp;month=2026-02">南山区</a>' in crumbs
    assert f'href="/not-visited?area={areas["street"].code}&amp;month=2026-02">粤海街道</a>' in crumbs
    assert '<span aria-current="page">科技园社区</span>' in crumbs
    assert "深圳市" not in crumbs and "广东省" not in crumbs
    assert crumbs.index("南山区") < crumbs.index("粤海街道") < crumbs.index("科技园社区")
    assert 'class="breadcrumbs"' not in top  # at one's own area there is nowhere to go back up to


async def test_not_visited_lists_the_longest_waiting_first_red_past_their_interval(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    community = areas["community"]
    li = await make_volunteer(session, clock, communities=[community], name="李阿姨")
    zhang = await make_volunteer(session, clock, communities=[community], name="张叔叔")
    await make_elder(session, clock, community=community, name="从未探访")
    january = await make_elder(session, clock, community=community, name="一月探访")
    february = await make_elder(session, clock, community=community, name="二月探访")
    weekly = await make_elder(session, clock, community=community, name="每周探访", risk=RiskLevel.HIGH)
    visited = await make_elder(session, clock, community=community, name="本月已探访")
    await _done(
        session, clock, january, datetime(2026, 1, 5, 10, tzinfo=SHANGHAI), slot=1, done_by_volunteer_id=zhang.id
    )
    await make_visit(session, clock, elder=january, slot=1)  # this month's, nobody assigned
    await _done(session, clock, february, datetime(2026, 2, 25, 10, tzinfo=SHANGHAI), slot=1)
    await make_visit(session, clock, elder=february, slot=1, volunteer_id=li.id, mode=VisitMode.PHONE)
    await _done(session, clock, weekly, datetime(2026, 2, 25, 10, tzinfo=SHANGHAI), slot=1)
    for slot in range(1, 5):  # four a month: contact is due every 8 days
        await make_visit(session, clock, elder=weekly, slot=slot, volunteer_id=li.id)
    await make_visit(session, clock, elder=visited, status=VisitStatus.DONE, done_at=clock.now())
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as client:
        page = await (await client.get("/not-visited?month=2026-03")).text()

    rows = _rows(page, "not-visited")
    assert [row.split()[0] for row in rows] == ["从未探访", "一月探访", "二月探访", "每周探访"]
    assert "本月已探访" not in page
    assert "从未联系" in rows[0] and "未安排" in rows[0]
    # The usual volunteer (who came last time), and the open visit still unassigned.
    assert "64 天" in rows[1] and "张叔叔" in rows[1] and "待分配" in rows[1]
    assert "13 天" in rows[2] and "李阿姨" in rows[2] and "电话" in rows[2]
    assert "13 天" in rows[3]
    marked = re.findall(r'<tr class="(urgent)?">', page.split('<table id="not-visited">', 1)[1])
    assert marked == ["urgent", "urgent", "", "urgent"]  # 13 days is within a month's interval, not within 8 days
    assert 'id="more"' not in page


async def test_not_visited_shows_two_hundred_and_counts_the_rest(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    now = clock.now()
    session.add_all(
        Elder(
            external_id=f"N{n:04d}",
            name=f"批量{n}",
            community_id=areas["community"].id,  # type: ignore[arg-type]
            enrolled_on=date(2026, 1, 1),
            created_at=now,
            updated_at=now,
        )
        for n in range(203)
    )
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        page = await (await client.get("/not-visited")).text()
        overview = await (await client.get("/")).text()
    assert len(_rows(page, "not-visited")) == 200
    assert '<p class="more" id="more">还有 3 条未列出，请缩小区域查看。</p>' in page
    assert 'id="count-not-visited">203<' in overview


async def test_the_reasons_elders_are_left_out_are_counted_apart(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    community = areas["community"]
    await make_elder(session, clock, community=community, consent=False)
    await make_elder(session, clock, community=community, status=ElderStatus.PAUSED)
    await make_elder(session, clock, community=community, status=ElderStatus.PAUSED, consent=False)
    await make_elder(session, clock, community=community, status=ElderStatus.MOVED)
    await make_elder(session, clock, community=community, status=ElderStatus.DECEASED)
    await make_elder(session, clock, community=community, status=ElderStatus.WITHDREW)
    await make_elder(session, clock, community=community, status=ElderStatus.DECEASED, enrolled_on=date(2026, 4, 2))
    await make_elder(session, clock, community=areas["other_community"], status=ElderStatus.MOVED)
    await make_elder(session, clock, community=community)  # eligible: not a reason
    await session.commit()

    reasons = await not_visited_reasons(session, area=areas["street"], month="2026-03")
    assert (reasons.no_consent, reasons.paused, reasons.moved, reasons.deceased, reasons.withdrew) == (1, 2, 1, 1, 1)
    assert reasons.left == 3

    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        page = await (await client.get("/not-visited")).text()
    assert "未计入探访率：未同意 1 人，暂停 2 人，已离开 3 人（迁出 1、去世 1、退出 1）。" in page


async def test_the_page_query_takes_its_limit_and_the_count_covers_all(
    session: AsyncSession, clock: FakeClock, areas: dict[str, Area]
) -> None:
    for _ in range(3):
        await make_elder(session, clock, community=areas["community"])
    await session.commit()
    found = await not_visited(session, area=areas["district"], month="2026-03", today=TODAY, zone=SHANGHAI, limit=2)
    assert (len(found.rows), found.total, found.more) == (2, 3, 1)


async def test_the_overview_counts_and_links_to_the_lists_of_the_area_and_month_in_view(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    late = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=late, window_end=date(2026, 3, 5))  # overdue and unassigned
    other = await make_elder(session, clock, community=areas["community2"])
    await make_visit(session, clock, elder=other, status=VisitStatus.DONE, done_at=clock.now())
    session.add(Incident(elder_id=late.id, kind="fall", opened_at=clock.now()))  # type: ignore[arg-type]
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")

    code = areas["community"].code
    async with await sign_in(server, "district-lead") as client:
        page = await (await client.get(f"/?area={code}&month=2026-03")).text()
        beside = await (await client.get(f"/?area={areas['community2'].code}&month=2026-03")).text()
    for path, count in (("not-visited", 1), ("overdue", 1), ("unassigned", 1), ("problems", 0), ("incidents", 1)):
        assert f'href="/{path}?area={code}&amp;month=2026-03"' in page, path
        assert f'id="count-{path}">{count}<' in page, path
    assert 'id="count-not-visited">0<' in beside and 'id="count-incidents">0<' in beside


async def test_the_grouped_rates_agree_with_the_rate_definition(
    session: AsyncSession, clock: FakeClock, areas: dict[str, Area]
) -> None:
    for community, done in ((areas["community"], True), (areas["community"], False), (areas["community2"], True)):
        elder = await make_elder(session, clock, community=community)
        await make_visit(session, clock, elder=elder, status=VisitStatus.DONE if done else VisitStatus.PLANNED)
        await make_visit(session, clock, elder=elder, slot=2, status=VisitStatus.DONE if done else VisitStatus.MISSED)
    await make_elder(session, clock, community=areas["other_community"])
    await make_elder(session, clock, community=areas["community"], consent=False)
    await session.commit()

    for area in (areas["province"], areas["district"], areas["street"]):
        rates = await area_rates(session, month="2026-03", area=area)
        assert rates.total == await visit_rate(session, month="2026-03", area=area)
        for child, rate in rates.children:
            assert rate == await visit_rate(session, month="2026-03", area=child)


async def _incident(session: AsyncSession, elder: Elder, opened: datetime, **values) -> Incident:  # type: ignore[no-untyped-def]
    incident = Incident(elder_id=elder.id, kind=values.pop("kind", "fall"), opened_at=opened, **values)  # type: ignore[arg-type]
    session.add(incident)
    await session.flush()
    return incident


async def test_incidents_have_tabs_and_resolved_ones_are_found_by_month(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    here = await make_elder(session, clock, community=areas["community"], name="甲")
    beside = await make_elder(session, clock, community=areas["community2"], name="乙")
    elsewhere = await make_elder(session, clock, community=areas["other_community"], name="丙")
    now = clock.now()
    fell = await _incident(session, here, now, kind="fall")
    acked = await _incident(
        session,
        beside,
        now - timedelta(hours=1),
        kind="medical",
        status=IncidentStatus.ACKNOWLEDGED,
        acknowledged_at=now,
    )
    march = await _incident(
        session,
        here,
        now - timedelta(days=3),
        kind="fire",
        status=IncidentStatus.RESOLVED,
        resolved_at=now - timedelta(days=2),
    )
    february = await _incident(
        session,
        here,
        datetime(2026, 2, 27, 9, tzinfo=SHANGHAI),
        kind="nonsense",
        status=IncidentStatus.RESOLVED,
        resolved_at=datetime(2026, 2, 28, 23, 30, tzinfo=SHANGHAI),
    )
    # Resolved at 00:30 local on March 1st, still February 28th in UTC: a March incident on a Shanghai desk.
    first = await _incident(
        session,
        here,
        datetime(2026, 2, 28, 22, tzinfo=SHANGHAI),
        kind="fall",
        status=IncidentStatus.RESOLVED,
        resolved_at=datetime(2026, 3, 1, 0, 30, tzinfo=SHANGHAI),
    )
    drill = await _incident(session, beside, now - timedelta(hours=2), kind="drill", is_drill=True)
    await _incident(session, elsewhere, now, kind="fall")
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as client:
        active = await (await client.get("/incidents")).text()
        opened = await (await client.get("/incidents?status=open")).text()
        acknowledged = await (await client.get("/incidents?status=acknowledged")).text()
        resolved = await (await client.get("/incidents?status=resolved")).text()
        in_february = await (await client.get("/incidents?status=resolved&month=2026-02")).text()
        community = await (await client.get(f"/incidents?area={areas['community'].code}")).text()
        assert (await client.get("/incidents?status=closed")).status == 400
        assert (await client.get(f"/incidents?area={areas['other_community'].code}")).status == 404

    def linked(page: str) -> list[str]:
        return re.findall(r'<td data-label="老人"><a href="/incidents/(\d+)">', page)

    assert linked(active) == [str(fell.id), str(acked.id), str(drill.id)]
    assert "跌倒" in active and "身体不适" in active and "待处理" in active and "已确认" in active
    assert f'<a href="/incidents/{drill.id}" class="drill-mark">演练</a>' in active
    assert 'href="/drill"' in active
    assert "丙" not in active
    assert linked(opened) == [str(fell.id), str(drill.id)]
    assert linked(acknowledged) == [str(acked.id)]
    assert linked(resolved) == [str(march.id), str(first.id)] and "火情" in resolved and "已结案" in resolved
    assert linked(in_february) == [str(february.id)] and "其他紧急情况" in in_february  # an unknown kind, in words
    assert linked(community) == [str(fell.id)]
    assert "nonsense" not in in_february


async def test_planned_kinds_count_toward_the_interval_and_extra_visits_do_not(
    session: AsyncSession, clock: FakeClock, areas: dict[str, Area]
) -> None:
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder, slot=1)
    await make_visit(session, clock, elder=elder, slot=101, kind=VisitKind.EXTRA)
    await session.commit()
    found = await not_visited(session, area=areas["street"], month="2026-03", today=TODAY, zone=SHANGHAI)
    assert [row.interval_days for row in found.rows] == [31]


async def test_a_past_month_counts_the_wait_to_its_own_last_day(
    session: AsyncSession, clock: FakeClock, areas: dict[str, Area]
) -> None:
    elder = await make_elder(session, clock, community=areas["community"])
    await _done(session, clock, elder, datetime(2026, 1, 20, 10, tzinfo=SHANGHAI))
    await _done(session, clock, elder, datetime(2026, 3, 5, 10, tzinfo=SHANGHAI))  # after February
    await session.commit()
    found = await not_visited(session, area=areas["street"], month="2026-02", today=TODAY, zone=SHANGHAI)
    assert [(row.days_since, row.past_interval) for row in found.rows] == [(39, True)]  # Jan 20 to Feb 28
