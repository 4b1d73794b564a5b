"""The coordinator dashboard over HTTP: sign-in, the visit rate toward 100%, and seeing only one's own area."""

from __future__ import annotations

from datetime import datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import ProblemCategory, ProblemStatus, VisitStatus
from carevisit.storage.models import Area, Problem
from tests.conftest import SHANGHAI
from tests.dashboard.conftest import csrf_of, post_login, sign_in
from tests.factories import make_elder, make_visit


async def _problem(session: AsyncSession, clock: FakeClock, community: Area, description: str) -> Problem:
    elder = await make_elder(session, clock, community=community, name=f"老人-{description}")
    problem = Problem(
        elder_id=elder.id,  # type: ignore[arg-type]
        category=ProblemCategory.HOME_SAFETY,
        description=description,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    session.add(problem)
    await session.commit()
    return problem


async def test_pages_need_a_sign_in(server: TestServer) -> None:
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/", "/overdue", "/problems", "/incidents"):
            response = await anonymous.get(server.make_url(path), allow_redirects=False)
            assert (response.status, response.headers["Location"]) == (303, "/login")


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=jar) as client:
        for username, password in (("wang", "wrong password"), ("nobody", "wrong password")):
            response = await post_login(client, username, password)
            assert response.status == 401
            assert "用户名或密码不正确" in await response.text()


async def test_overview_shows_the_month_rate_for_the_coordinators_subtree(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    visited = await make_elder(session, clock, community=areas["community"])
    await make_elder(session, clock, community=areas["community2"])
    elsewhere = await make_elder(session, clock, community=areas["other_community"])
    await make_visit(session, clock, elder=visited, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=elsewhere, status=VisitStatus.DONE)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    client = await sign_in(server, "street-lead")
    async with client:
        page = await (await client.get("/")).text()
    assert 'id="month-rate">50.0%' in page  # 1 of the street's 2 elders; the other street is not counted
    assert "科技园社区" in page and "华侨城社区" not in page


async def test_on_the_first_the_overview_says_last_month_still_takes_late_confirmations(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder)  # March's, not yet confirmed
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    notice = "2026-03 的探访今天内仍可补确认（计入 2026-03），数据自 4月2日 起为最终数据。"

    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    client = await sign_in(server, "street-lead")
    async with client:
        this_month = await (await client.get("/")).text()
        march = await (await client.get("/?month=2026-03")).text()
        clock.set(datetime(2026, 4, 2, 9, 0, tzinfo=SHANGHAI))
        final = await (await client.get("/?month=2026-03")).text()
    assert notice in this_month and f'href="/?area={areas["street"].code}&amp;month=2026-03"' in this_month
    assert notice in march
    assert "补确认" not in final


async def test_a_coordinator_never_sees_or_touches_another_streets_problems(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    mine = await _problem(session, clock, areas["community"], "燃气灶漏气")
    theirs = await _problem(session, clock, areas["other_community"], "门锁坏了")
    await coordinator_factory(areas["street"], "street-lead")

    client = await sign_in(server, "street-lead")
    async with client:
        page = await (await client.get("/problems")).text()
        assert "燃气灶漏气" in page and "门锁坏了" not in page
        csrf = await csrf_of(client, "/problems")
        response = await client.post(
            f"/problems/{theirs.id}", data={"csrf": csrf, "status": "closed", "resolution": "已修好"}
        )
        assert response.status == 404
    await session.refresh(theirs)
    assert theirs.status == ProblemStatus.OPEN
    assert mine.status == ProblemStatus.OPEN


async def test_closing_a_problem_needs_a_resolution_then_leaves_the_queue(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    problem = await _problem(session, clock, areas["community"], "热水器坏了")
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    async with client:
        csrf = await csrf_of(client, "/problems")
        refused = await client.post(f"/problems/{problem.id}", data={"csrf": csrf, "status": "closed"})
        assert refused.status == 400 and "办结需填写处理结果" in await refused.text()
        done = await client.post(
            f"/problems/{problem.id}", data={"csrf": csrf, "status": "closed", "resolution": "已联系物业更换"}
        )
        assert done.status == 200 and "热水器坏了" not in await done.text()
    await session.refresh(problem)
    assert (problem.status, problem.resolution) == (ProblemStatus.CLOSED, "已联系物业更换")


async def test_a_post_without_the_form_token_changes_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    problem = await _problem(session, clock, areas["community"], "独自在家摔倒过")
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    async with client:
        response = await client.post(f"/problems/{problem.id}", data={"status": "closed", "resolution": "x"})
        assert response.status == 403
    await session.refresh(problem)
    assert problem.status == ProblemStatus.OPEN


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_the_dashboard_speaks_english_when_configured(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "district-lead")
    client = await sign_in(server, "district-lead")
    async with client:
        page = await (await client.get("/")).text()
    assert "Visit rate this month" in page


async def test_a_deactivated_coordinator_is_signed_out_at_once(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    coordinator = await coordinator_factory(areas["district"], "leaving")
    client = await sign_in(server, "leaving")
    async with client:
        coordinator.active = False
        session.add(coordinator)
        await session.commit()
        response = await client.get("/", allow_redirects=False)
        assert response.status == 303


async def test_a_district_coordinator_drills_down_but_a_street_coordinator_cannot_step_sideways(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_elder(session, clock, community=areas["community"])
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")
    await coordinator_factory(areas["street"], "street-lead")

    district = await sign_in(server, "district-lead")
    async with district:
        page = await (await district.get(f"/?area={areas['street'].code}")).text()
        assert "粤海街道" in page and "科技园社区" in page
    street = await sign_in(server, "street-lead")
    async with street:
        sideways = await street.get(f"/?area={areas['other_street'].code}")
        upwards = await street.get(f"/?area={areas['district'].code}")
        assert (sideways.status, upwards.status) == (404, 404)
