"""Giving a visit to a named volunteer over HTTP: who can be chosen, the capacity warning, and what is refused."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp.test_utils import TestServer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import VisitKind, VisitStatus
from carevisit.storage.models import EXTRA_SLOT_BASE, Area, AuditEntry, ChatOutboxMessage, Visit
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_elder, make_visit, make_volunteer


async def _audit(session: AsyncSession) -> list[AuditEntry]:
    rows = await session.exec(
        select(AuditEntry).where(AuditEntry.action == "visit.assign").order_by(col(AuditEntry.id))
    )
    return list(rows.all())


async def _fresh(session: AsyncSession, visit_id: int | None) -> Visit:
    statement = select(Visit).where(Visit.id == visit_id).execution_options(populate_existing=True)
    return (await session.exec(statement)).one()


async def test_the_assign_page_lists_the_communitys_active_volunteers_with_their_load(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"], name="孙爷爷")
    busy = await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨", capacity=3)
    await make_volunteer(session, clock, communities=[areas["community"]], name="停用者", active=False)
    await make_volunteer(session, clock, communities=[areas["community2"]], name="邻社区")
    other = await make_elder(session, clock, community=areas["community"])
    for slot in (1, 2):
        await make_visit(session, clock, elder=other, slot=slot, volunteer_id=busy.id)
    await make_visit(session, clock, elder=other, slot=3, volunteer_id=busy.id, status=VisitStatus.CANCELLED)
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        response = await client.get(f"/visits/{visit.id}/assign")
        page = await response.text()
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    assert "孙爷爷" in page and f'href="/elders/{elder.id}"' in page and "未分配" in page
    assert "李阿姨" in page and "2/3" in page  # a cancelled visit is no load
    assert "停用者" not in page and "邻社区" not in page
    assert 'data-label="本月已派/可承担"' in page


async def test_an_urgent_extra_visit_is_given_to_a_named_volunteer_and_audited(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    chosen = await make_volunteer(
        session, clock, communities=[areas["community"]], name="张叔叔", telegram_user_id=7001, telegram_chat_id=7001
    )
    urgent = await make_visit(
        session, clock, elder=elder, kind=VisitKind.EXTRA, slot=EXTRA_SLOT_BASE + 1, reason="跌倒后",
        deadline_at=clock.now() + timedelta(hours=24), window_start=date(2026, 3, 10), window_end=date(2026, 3, 11),
    )  # fmt: skip
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        form = {"csrf": csrf, "volunteer": str(chosen.id), "back": "elder"}
        response = await client.post(f"/visits/{urgent.id}/assign", data=form, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith(f"/elders/{elder.id}?")
        page = await (await client.get(response.headers["Location"])).text()
    assert f"已指派给 张叔叔（{chosen.external_id}）。" in page
    assigned = await _fresh(session, urgent.id)
    assert assigned.volunteer_id == chosen.id and assigned.assigned_at is not None
    [entry] = await _audit(session)
    assert entry.entity_id == urgent.id and entry.actor.startswith("coordinator:")
    assert entry.details == {"volunteer": chosen.id, "previous": None, "load": 1, "capacity": 20}
    # Told at once in their chat, not at the next daily digest.
    [notice] = (await session.exec(select(ChatOutboxMessage))).all()
    assert notice.recipient == "7001" and elder.name in notice.text and "跌倒后" in notice.text
    assert "截止 3月11日" in notice.text


async def test_from_the_unassigned_list_it_returns_to_the_list(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    chosen = await make_volunteer(session, clock, communities=[areas["community"]])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, f"/visits/{visit.id}/assign?back=unassigned")
        for back, target in (("unassigned", "/unassigned?"), ("https://evil.example/", f"/elders/{elder.id}?")):
            form = {"csrf": csrf, "volunteer": str(chosen.id), "back": back}
            response = await client.post(f"/visits/{visit.id}/assign", data=form, allow_redirects=False)
            assert response.headers["Location"].startswith(target), back


async def test_over_capacity_asks_first_then_assigns_with_the_warning(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    other = await make_elder(session, clock, community=areas["community"])
    full = await make_volunteer(session, clock, communities=[areas["community"]], name="王姐", capacity=1)
    await make_visit(session, clock, elder=other, volunteer_id=full.id)
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        form = {"csrf": csrf, "volunteer": str(full.id), "back": "elder"}
        asked = await client.post(f"/visits/{visit.id}/assign", data=form)
        question = await asked.text()
        assert asked.status == 200 and "已超出本月可承担数 2/1" in question and "仍然指派" in question
        assert 'name="over_capacity_ok" value="yes"' in question
        assert (await _fresh(session, visit.id)).volunteer_id is None and await _audit(session) == []
        confirmed = await client.post(f"/visits/{visit.id}/assign", data=form | {"over_capacity_ok": "yes"})
        assert "已指派给 王姐" in (page := await confirmed.text()) and "已超出本月可承担数 2/1" in page
    assert (await _fresh(session, visit.id)).volunteer_id == full.id
    assert len(await _audit(session)) == 1
    assert (await session.exec(select(ChatOutboxMessage))).all() == []  # no linked chat: nothing to send


async def test_a_volunteer_who_cannot_serve_this_elder_is_refused_and_nothing_changes(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    inactive = await make_volunteer(session, clock, communities=[areas["community"]], active=False)
    neighbour = await make_volunteer(session, clock, communities=[areas["community2"]])
    elsewhere = await make_volunteer(session, clock, communities=[areas["other_community"]])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, "/planning")  # no candidate here: the page has no form
        malformed = ("", "abc", "²", "12345678901234567890123", "9" * 5000)
        for volunteer in (inactive.id, neighbour.id, elsewhere.id, 999999, *malformed):
            form = {"csrf": csrf, "volunteer": str(volunteer), "over_capacity_ok": "yes"}
            response = await client.post(f"/visits/{visit.id}/assign", data=form)
            assert response.status == 400 and "请选择本社区在岗的志愿者" in await response.text(), volunteer
    assert (await _fresh(session, visit.id)).volunteer_id is None and await _audit(session) == []


async def test_a_done_cancelled_or_closed_months_visit_cannot_be_assigned(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    done = await make_visit(session, clock, elder=elder, status=VisitStatus.DONE)
    cancelled = await make_visit(session, clock, elder=elder, slot=2, status=VisitStatus.CANCELLED)
    closed = await make_visit(
        session, clock, elder=elder, month="2026-01", window_start=date(2026, 1, 1), window_end=date(2026, 1, 31)
    )
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, "/planning")
        for visit in (done, cancelled, closed):
            form = {"csrf": csrf, "volunteer": str(volunteer.id)}
            response = await client.post(f"/visits/{visit.id}/assign", data=form)
            assert response.status == 400 and "不能再指派" in await response.text(), visit.status
    for visit in (done, cancelled, closed):
        assert (await _fresh(session, visit.id)).volunteer_id is None
    assert await _audit(session) == []


async def test_a_visit_of_another_area_is_not_found_like_one_that_does_not_exist(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["other_community"], name="赵大爷")
    volunteer = await make_volunteer(session, clock, communities=[areas["other_community"]])
    visit = await make_visit(session, clock, elder=elder)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        csrf = await csrf_of(client, "/planning")
        for visit_id in (visit.id, 999999, "12345678901234567890123", "٣"):
            page = await client.get(f"/visits/{visit_id}/assign")
            assert page.status == 404 and "赵大爷" not in await page.text()
            form = {"csrf": csrf, "volunteer": str(volunteer.id)}
            assert (await client.post(f"/visits/{visit_id}/assign", data=form)).status == 404
    assert (await _fresh(session, visit.id)).volunteer_id is None


async def test_a_crafted_outcome_link_shows_nothing_it_should_not(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    elsewhere = await make_volunteer(session, clock, communities=[areas["other_community"]], name="外区志愿者")
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as client:
        for query in (
            f"done=assigned&v={elsewhere.id}",
            "done=paused&n=" + "9" * 5000,
            "done=<script>",
            "done=assigned",
        ):
            response = await client.get(f"/elders/{elder.id}?{query}")
            page = await response.text()
            assert response.status == 200 and "外区志愿者" not in page and 'id="notice"' not in page, query[:30]


async def test_assigning_the_volunteer_who_already_has_it_changes_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], name="周阿姨")
    visit = await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id)
    await session.commit()
    await coordinator_factory(areas["community"], "community-lead")
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, f"/elders/{elder.id}")
        response = await client.post(f"/visits/{visit.id}/assign", data={"csrf": csrf, "volunteer": str(volunteer.id)})
        assert "该探访本就由 周阿姨" in await response.text()
    assert await _audit(session) == []
