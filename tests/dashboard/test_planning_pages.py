"""The dashboard's planning page over HTTP: extra visits and reassignment, within the coordinator's own area."""

from __future__ import annotations

from aiohttp.test_utils import TestServer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.storage.enums import CoordinatorRole, ElderClass, VisitKind
from carevisit.storage.models import Area, Visit
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_elder, make_visit, make_volunteer


async def extra_visits(session: AsyncSession) -> list[Visit]:
    statement = select(Visit).where(Visit.kind == VisitKind.EXTRA).order_by(col(Visit.elder_id))
    return list((await session.exec(statement.execution_options(populate_existing=True))).all())


async def test_a_coordinator_orders_an_extra_visit_for_an_elder_of_their_area_only(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    mine = await make_elder(session, clock, community=areas["community"], external_id="E-MINE")
    await make_elder(session, clock, community=areas["other_community"], external_id="E-OTHER")
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    client = await sign_in(server, "street-lead")
    async with client:
        page = await (await client.get("/planning")).text()
        assert "安排加访" in page and "加访与派单" in page
        csrf = await csrf_of(client, "/planning")
        form = {"csrf": csrf, "elder": "E-MINE", "within_hours": "24", "reason": "出院", "mode": "home"}
        done = await client.post("/planning/extra", data=form)
        assert "已安排加访 1 项" in await done.text()
        refused = await client.post("/planning/extra", data=form | {"elder": "E-OTHER"})
        assert refused.status == 400 and "老人编号 E-OTHER 不存在" in await refused.text()
        bad_hours = await client.post("/planning/extra", data=form | {"within_hours": "soon"})
        assert bad_hours.status == 400
    visits = await extra_visits(session)
    assert [v.elder_id for v in visits] == [mine.id]


async def test_a_class_wide_order_and_a_reassignment_from_the_page(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.ALONE))
    await make_elder(session, clock, community=areas["community2"], classes=int(ElderClass.EMPTY_NEST))
    waiting = await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.EMPTY_NEST))
    open_visit = await make_visit(session, clock, elder=waiting)  # nobody to take it yet
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    client = await sign_in(server, "street-lead")
    async with client:
        csrf = await csrf_of(client, "/planning")
        form = {"csrf": csrf, "area": "440305001", "classes": "alone", "within_hours": "48", "reason": "高温"}
        asked = await client.post("/planning/extra", data=form)
        assert "将为 粤海街道 的 1 位老人安排 1 次探访" in await asked.text()
        done = await client.post("/planning/extra", data=form | {"confirm": "yes"})
        assert "已安排加访 1 项（未分配 1 项）" in await done.text()

        volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
        await session.commit()
        asked = await client.post("/planning/reassign", data={"csrf": csrf})
        assert "将为本区域 2 项本月未分配或志愿者已停用的探访重新安排志愿者" in await asked.text()
        reassigned = await client.post("/planning/reassign", data={"csrf": csrf, "confirm": "yes"})
        assert "已重新派单 2 项，仍未分配 0 项" in await reassigned.text()
    await session.refresh(open_visit)
    assert open_visit.volunteer_id == volunteer.id


async def test_a_viewer_may_look_but_not_order(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_elder(session, clock, community=areas["community"], external_id="E-1")
    await session.commit()
    await coordinator_factory(areas["street"], "viewer", role=CoordinatorRole.VIEWER)
    client = await sign_in(server, "viewer")
    async with client:
        assert "只读账号" in await (await client.get("/planning")).text()
        # Even a well-formed post (a valid CSRF token, as the server would issue it) is refused.
        cookie = next(c.value for c in client.cookie_jar if c.key == COOKIE)
        csrf = SessionSigner(b"test-secret").csrf_token(cookie)
        form = {"csrf": csrf, "elder": "E-1", "within_hours": "24", "reason": "跌倒"}
        for path, data in (("/planning/reassign", {"csrf": csrf}), ("/planning/extra", form)):
            response = await client.post(path, data=data)
            assert response.status == 403 and "只读账号" in await response.text()
    assert await extra_visits(session) == []


async def test_an_order_with_neither_elder_nor_area_is_refused_and_orders_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_elder(session, clock, community=areas["community"])
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    async with client:
        csrf = await csrf_of(client, "/planning")
        form = {"csrf": csrf, "elder": "", "area": "", "within_hours": "24", "reason": "高温", "confirm": "yes"}
        refused = await client.post("/planning/extra", data=form)
        page = await refused.text()
    assert refused.status == 400 and "请填写老人编号或区域" in page
    assert 'value="高温"' in page  # what was typed stays in the form
    assert await extra_visits(session) == []


async def test_an_area_wide_order_is_counted_first_and_the_count_is_what_gets_ordered(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    for community in ("community", "community", "community2"):
        await make_elder(session, clock, community=areas[community])
    await make_elder(session, clock, community=areas["community"], consent=False)  # not eligible
    await make_elder(session, clock, community=areas["other_community"])  # another street
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    async with client:
        csrf = await csrf_of(client, "/planning")
        form = {"csrf": csrf, "area": "440305001", "within_hours": "24", "reason": "寒潮", "mode": "phone"}
        asked = await client.post("/planning/extra", data=form)
        page = await asked.text()
        assert asked.status == 200 and "将为 粤海街道 的 4 位老人安排 3 次探访" in page and "1 位不符合条件" in page
        assert "原因：寒潮；24 小时内完成；方式：电话；老人类别：全部" in page
        assert await extra_visits(session) == []  # asking changed nothing
        await client.post("/planning/extra", data=form | {"confirm": "yes"})
        again = await (await client.post("/planning/extra", data=form)).text()
    visits = await extra_visits(session)
    assert len(visits) == 3 and {v.mode.value for v in visits} == {"phone"}
    assert "安排 0 次探访" in again and "3 位已安排同一原因的加访" in again


async def test_form_errors_name_the_field_and_the_reason(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_elder(session, clock, community=areas["community"], external_id="FT-0001")
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    client = await sign_in(server, "street-lead")
    async with client:
        csrf = await csrf_of(client, "/planning")
        form = {"csrf": csrf, "elder": "FT-0001", "within_hours": "24", "reason": "出院"}
        cases = [
            ({"elder": "FT-9999"}, "老人编号 FT-9999 不存在"),
            ({"within_hours": "0"}, "限时（小时）须为 1 到 744 之间的整数"),
            ({"reason": "  "}, "请填写原因"),
            ({"elder": "", "area": "440305002"}, "区域：所选区域不存在或不在您的辖区内"),  # the other street
            ({"classes": "rich"}, "老人类别（不选为全部）：请从列表中选择"),
        ]
        for change, message in cases:
            response = await client.post("/planning/extra", data=form | change)
            assert response.status == 400 and message in await response.text(), change
    assert await extra_visits(session) == []


async def test_the_area_list_shows_names_within_the_coordinators_subtree_only(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "street-lead")
    client = await sign_in(server, "street-lead")
    async with client:
        page = await (await client.get("/planning")).text()
    assert "科技园社区" in page and "高新社区" in page and "华侨城社区" not in page
    assert 'placeholder="440305001"' not in page  # no code to type
