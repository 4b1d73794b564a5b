"""The elder's page over HTTP: what it shows to whom, and its actions (extra visit, pause, resume, moved, deceased)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.scheduler.planning import generate_month
from carevisit.scheduler.visit_policy import load_policy
from carevisit.storage.enums import (
    CoordinatorRole,
    ElderClass,
    ElderStatus,
    IncidentStatus,
    ProblemCategory,
    RiskLevel,
    VisitKind,
    VisitOutcome,
    VisitStatus,
)
from carevisit.storage.models import Area, AuditEntry, Elder, Incident, Problem, Visit
from tests.conftest import SHANGHAI
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_contact, make_elder, make_visit, make_volunteer

POLICY = Path(__file__).resolve().parents[2] / "config" / "visit_policy.toml"


async def _audit(session: AsyncSession, action: str) -> list[AuditEntry]:
    rows = await session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id)))
    return list(rows.all())


async def _fresh(session: AsyncSession, model: Any, row_id: int | None) -> Any:
    return (await session.exec(select(model).where(model.id == row_id).execution_options(populate_existing=True))).one()


async def _visits_of(session: AsyncSession, elder_id: int) -> list[Visit]:
    statement = select(Visit).where(Visit.elder_id == elder_id).order_by(col(Visit.id))
    return list((await session.exec(statement.execution_options(populate_existing=True))).all())


def _viewer_csrf(client: aiohttp.ClientSession) -> str:
    """The token the server would issue: a viewer's page has no forms to read it from."""
    cookie = next(c.value for c in client.cookie_jar if c.key == COOKIE)
    return SessionSigner(b"test-secret").csrf_token(cookie)


async def _elder_with_history(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Elder:
    elder = await make_elder(
        session,
        clock,
        community=areas["community"],
        name="王秀英",
        external_id="FT-0001",
        phone="+8613812345678",
        classes=int(ElderClass.ALONE | ElderClass.ADVANCED_AGE),
        risk=RiskLevel.HIGH,
    )
    await make_contact(session, elder=elder, name="王小明", relation="儿子", phone="+8613987654321", is_carer=True)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    done = datetime(2026, 2, 12, 2, 0, tzinfo=UTC)
    await make_visit(
        session,
        clock,
        elder=elder,
        month="2026-02",
        window_start=date(2026, 2, 1),
        window_end=date(2026, 2, 28),
        status=VisitStatus.DONE,
        done_at=done,
        done_by_volunteer_id=volunteer.id,
        volunteer_id=volunteer.id,
        outcome=VisitOutcome.PROBLEM,
        checklist={"health": "ok", "mood": "concern"},
    )
    await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id)  # this month's, open
    now = clock.now()
    session.add(
        Problem(
            elder_id=elder.id,  # type: ignore[arg-type]
            category=ProblemCategory.LONELINESS,
            description="老伴去世后情绪低落",
            created_at=now,
            updated_at=now,
        )
    )
    session.add(Incident(elder_id=elder.id, kind="fall", status=IncidentStatus.RESOLVED, opened_at=now))  # type: ignore[arg-type]
    await session.commit()
    return elder


async def test_a_coordinator_sees_the_whole_record_in_chinese_with_full_phones(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await _elder_with_history(session, clock, areas)
    incident = (await session.exec(select(Incident))).one()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        response = await client.get(f"/elders/{elder.id}")
        page = await response.text()
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = ("王秀英", "FT-0001", "科技园社区", '"classes">独居、高龄<', '"risk">高风险<', "同意探访", '"status">正常<')
    for words in shown:
        assert words in page, words
    assert "13812345678" in page and "13987654321" in page  # a coordinator calls the elder and the family
    assert "王小明" in page and "儿子" in page
    assert "需关注" in page and "正常" in page and "有问题" in page  # the checklist answers of February
    assert "孤独或情绪低落" in page and "老伴去世后情绪低落" in page
    assert f'href="/incidents/{incident.id}"' in page and "跌倒" in page and "已处置" in page
    # The breadcrumb leads from the coordinator's street to the community's list, not above the street.
    assert 'href="/not-visited?area=440305001"' in page and 'href="/not-visited?area=440305001001"' in page
    assert '440305"' not in page and "南山区" not in page
    # Most recent first: March's open visit before February's done one.
    assert page.index("2026-03</td>") < page.index("2026-02</td>")
    assert "loneliness" not in page and "resolved" not in page and "high" not in page


async def test_a_viewer_sees_masked_phones_and_no_actions(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await _elder_with_history(session, clock, areas)
    await coordinator_factory(areas["district"], "reader", role=CoordinatorRole.VIEWER)
    open_visit = (await session.exec(select(Visit).where(Visit.status == VisitStatus.PLANNED))).one()
    async with await sign_in(server, "reader") as client:
        page = await (await client.get(f"/elders/{elder.id}")).text()
        assign_page = await (await client.get(f"/visits/{open_visit.id}/assign")).text()
    assert "李阿姨" in assign_page and '<form method="post" action="/visits/' not in assign_page  # sees, cannot act
    assert "138****5678" in page and "139****4321" in page
    assert "13812345678" not in page and "13987654321" not in page
    assert "/pause" not in page and "/leave" not in page and "/extra" not in page and "/assign" not in page


async def test_an_elder_of_another_area_is_not_found_like_one_that_does_not_exist(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elsewhere = await make_elder(session, clock, community=areas["other_community"], name="赵大爷")
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, "/planning")
        long_id = "9" * 5000  # longer than int() takes by default
        for path in (
            f"/elders/{elsewhere.id}",
            "/elders/999999",
            "/elders/12345678901234567890123",
            f"/elders/{long_id}",
        ):
            response = await client.get(path)
            assert response.status == 404, path
            assert "赵大爷" not in await response.text()
        for action in ("pause", "resume", "leave", "extra"):
            form = {"csrf": csrf, "status": "deceased", "confirm": "yes", "within_hours": "24", "reason": "跌倒"}
            response = await client.post(f"/elders/{elsewhere.id}/{action}", data=form)
            assert response.status == 404, action
    assert (await _fresh(session, Elder, elsewhere.id)).status == ElderStatus.ACTIVE
    assert await _visits_of(session, elsewhere.id or 0) == []


async def test_a_long_history_is_cut_with_a_count_of_the_older_visits(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    for n in range(30):
        year, month = 2024 + n // 12, n % 12 + 1
        first = date(year, month, 1)
        await make_visit(
            session, clock, elder=elder, month=f"{first:%Y-%m}", window_start=first, window_end=first,
            status=VisitStatus.DONE,
        )  # fmt: skip
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        page = await (await client.get(f"/elders/{elder.id}")).text()
    assert "另有 6 条较早的记录未列出" in page
    assert "2026-06</td>" in page and "2024-06</td>" not in page


async def test_pause_until_a_date_then_resume_each_write_audit(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    early = await make_visit(session, clock, elder=elder, window_start=date(2026, 3, 1), window_end=date(2026, 3, 15))
    late = await make_visit(session, clock, elder=elder, slot=2, window_start=date(2026, 3, 16))
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        paused = await client.post(f"/elders/{elder.id}/pause", data={"csrf": csrf, "until": "2026-03-20"})
        page = await paused.text()
        assert paused.status == 200 and str(paused.url).endswith(f"/elders/{elder.id}?done=paused&n=1&m=1")
        assert "已暂停探访：取消 1 项，顺延 1 项。" in page and "暂停（住院等）（至 2026-03-20）" in page
        assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.PAUSED
        assert (await _fresh(session, Visit, early.id)).status == VisitStatus.CANCELLED
        assert (await _fresh(session, Visit, late.id)).window_start == date(2026, 3, 21)
        resumed = await client.post(f"/elders/{elder.id}/resume", data={"csrf": csrf})
        assert "已恢复探访" in await resumed.text()
    assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.ACTIVE
    assert [e.entity_id for e in await _audit(session, "elder.pause")] == [elder.id]
    assert [e.entity_id for e in await _audit(session, "elder.resume")] == [elder.id]


async def test_a_bad_pause_or_a_change_that_does_not_apply_changes_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        for until in ("2026-03-09", "next week", "2026-02-30"):
            response = await client.post(f"/elders/{elder.id}/pause", data={"csrf": csrf, "until": until})
            assert response.status == 400 and "暂停至的日期格式" in await response.text(), until
        refused = await client.post(f"/elders/{elder.id}/resume", data={"csrf": csrf})
        assert refused.status == 400 and "当前状态为“正常”" in await refused.text()
        unknown = await client.post(f"/elders/{elder.id}/leave", data={"csrf": csrf, "status": "active"})
        assert unknown.status == 400 and "请选择“已迁出”或“已故”" in await unknown.text()
    assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.ACTIVE
    assert (await _fresh(session, Visit, visit.id)).status == VisitStatus.PLANNED
    assert await _audit(session, "elder.pause") == [] and await _audit(session, "elder.resume") == []


async def test_deceased_asks_first_then_cancels_open_visits_and_the_planner_plans_no_more(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    areas: dict[str, Area],
    coordinator_factory,
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"], name="钱奶奶")
    neighbour = await make_elder(session, clock, community=areas["community"])
    open_visit = await make_visit(session, clock, elder=elder)
    done = await make_visit(session, clock, elder=elder, slot=2, status=VisitStatus.DONE)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        asked = await client.post(f"/elders/{elder.id}/leave", data={"csrf": csrf, "status": "deceased"})
        question = await asked.text()
        assert asked.status == 200 and "确认将 钱奶奶 标记为“已故”？其未完成的 1 项探访将取消" in question
        assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.ACTIVE  # asking changed nothing
        form = {"csrf": csrf, "status": "deceased", "confirm": "yes"}
        confirmed = await client.post(f"/elders/{elder.id}/leave", data=form)
        page = await confirmed.text()
        assert "已标记为已故，取消未完成的探访 1 项。" in page and "/pause" not in page and "/resume" not in page
        again = await client.post(f"/elders/{elder.id}/pause", data={"csrf": csrf})
        assert again.status == 400 and "当前状态为“已故”" in await again.text()
    assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.DECEASED
    assert (await _fresh(session, Visit, open_visit.id)).status == VisitStatus.CANCELLED
    assert (await _fresh(session, Visit, done.id)).status == VisitStatus.DONE  # history stays
    [entry] = await _audit(session, "elder.deceased")
    assert entry.entity_id == elder.id and entry.details == {"previous": "active", "cancelled": 1}
    assert entry.actor.startswith("coordinator:") and "钱奶奶" not in repr(entry.details)

    await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    policy = load_policy(POLICY)
    await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-04")
    assert [v.month for v in await _visits_of(session, elder.id or 0)] == ["2026-03", "2026-03"]
    assert {v.month for v in await _visits_of(session, neighbour.id or 0)} == {"2026-04"}  # the planner did run


async def test_moved_away_ends_the_plan_and_a_return_resumes_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        form = {"csrf": csrf, "status": "moved", "confirm": "yes"}
        moved = await client.post(f"/elders/{elder.id}/leave", data=form)
        assert "已标记为已迁出" in await moved.text()
        assert (await _fresh(session, Visit, visit.id)).status == VisitStatus.CANCELLED
        await client.post(f"/elders/{elder.id}/resume", data={"csrf": csrf})
    assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.ACTIVE
    assert len(await _audit(session, "elder.moved")) == 1 and len(await _audit(session, "elder.resume")) == 1


async def test_an_extra_visit_is_ordered_for_this_elder_only_and_bad_forms_order_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    neighbour = await make_elder(session, clock, community=areas["community"])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        form = {"csrf": csrf, "within_hours": "24", "reason": "出院", "mode": "phone"}
        for bad, why in (
            ({"within_hours": "soon"}, "限时（小时）需为 1 到 744"),
            ({"within_hours": "0"}, "限时（小时）需为 1 到 744"),
            ({"within_hours": "99999999999999999999999"}, "限时（小时）需为 1 到 744"),
            ({"within_hours": "²"}, "限时（小时）需为 1 到 744"),
            ({"reason": "  "}, "请填写原因"),
            ({"mode": "carrier-pigeon"}, "探访方式无效"),
        ):
            response = await client.post(f"/elders/{elder.id}/extra", data=form | bad)
            assert response.status == 400 and why in await response.text(), bad
        assert await _visits_of(session, elder.id or 0) == []
        ordered = await client.post(f"/elders/{elder.id}/extra", data=form)
        assert "已安排加访 1 项（其中未分配 1 项）。" in await ordered.text()
        repeated = await client.post(f"/elders/{elder.id}/extra", data=form)
        assert "未重复安排" in await repeated.text()
    [visit] = await _visits_of(session, elder.id or 0)
    assert visit.kind == VisitKind.EXTRA and visit.reason == "出院" and visit.mode.value == "phone"
    assert await _visits_of(session, neighbour.id or 0) == []
    [entry] = await _audit(session, "visits.extra")
    assert entry.details and entry.details["visits"] == [visit.id]


async def test_a_viewer_is_refused_every_action_and_nothing_changes(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "reader", role=CoordinatorRole.VIEWER)
    async with await sign_in(server, "reader") as client:
        csrf = _viewer_csrf(client)
        form = {
            "csrf": csrf, "status": "deceased", "confirm": "yes", "within_hours": "24", "reason": "跌倒",
            "volunteer": str(volunteer.id), "over_capacity_ok": "yes",
        }  # fmt: skip
        for path in (
            f"/elders/{elder.id}/pause",
            f"/elders/{elder.id}/resume",
            f"/elders/{elder.id}/leave",
            f"/elders/{elder.id}/extra",
            f"/visits/{visit.id}/assign",
        ):
            response = await client.post(path, data=form)
            assert response.status == 403 and "只读账号不能操作" in await response.text(), path
    assert (await _fresh(session, Elder, elder.id)).status == ElderStatus.ACTIVE
    [unchanged] = await _visits_of(session, elder.id or 0)
    assert unchanged.volunteer_id is None and unchanged.status == VisitStatus.PLANNED
    assert (await session.exec(select(func.count()).select_from(AuditEntry))).one() == 0


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_the_page_reads_in_english_when_the_dashboard_is_english(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await _elder_with_history(session, clock, areas)
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        page = await (await client.get(f"/elders/{elder.id}")).text()
    assert "Emergency contacts" in page and "living alone" in page and "concern" in page
