"""The dashboard in a real browser (Debian's Chromium driven by Playwright), as a coordinator uses it."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area
from tests.dashboard.conftest import PASSWORD, needs_chromium, sign_in_page
from tests.factories import make_elder, make_visit, make_volunteer

pytestmark = needs_chromium


async def test_a_coordinator_signs_in_sees_the_rate_and_drills_into_a_street(
    page, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    visited = await make_elder(session, clock, community=areas["community"])
    await make_elder(session, clock, community=areas["other_community"])
    await make_visit(session, clock, elder=visited, status=VisitStatus.DONE)
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")

    await page.goto(str(server.make_url("/")))
    assert page.url.endswith("/login")
    await page.get_by_label("用户名").fill("district-lead")
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url("**/")
    assert await page.locator("#month-rate").inner_text() == "50.0%"

    await page.get_by_role("link", name="粤海街道").click()
    await page.wait_for_load_state()
    assert await page.locator("#month-rate").inner_text() == "100.0%"
    assert await page.get_by_role("link", name="科技园社区").is_visible()


async def test_a_coordinator_invites_deactivates_and_reactivates_a_volunteer(
    page, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    leaving = await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    staying = await make_volunteer(session, clock, communities=[areas["community"]], name="张叔叔")
    elder = await make_elder(session, clock, community=areas["community"])
    visit = await make_visit(session, clock, elder=elder, volunteer_id=leaving.id)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    await sign_in_page(page, server, "street-lead")
    await page.get_by_role("link", name="志愿者").click()
    await page.wait_for_url("**/volunteers")
    row = page.locator(f"#volunteer-{leaving.id}")
    assert "李阿姨" in await row.inner_text()
    assert await row.locator(".load").inner_text() == "1/0"

    async with page.expect_navigation():
        await row.get_by_role("button", name="邀请绑定机器人").click()
    assert (await page.locator("#invitation-value").inner_text()).startswith("/start ")

    asked: list[str] = []

    async def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.locator(f"#volunteer-{leaving.id}").get_by_role("button", name="停用").click()
    await page.wait_for_url("**/volunteers?done=*")
    assert asked and "停用" in asked[0]  # asked first (the script runs under the page's Content-Security-Policy)
    assert "其探访已改派 1 项，仍未分配 0 项" in await page.locator("#notice").inner_text()
    assert await page.locator(f"#volunteer-{leaving.id} .state").inner_text() == "已停用"
    await session.refresh(visit)
    assert visit.volunteer_id == staying.id

    async with page.expect_navigation():
        await page.locator(f"#volunteer-{leaving.id}").get_by_role("button", name="恢复").click()
    assert await page.locator(f"#volunteer-{leaving.id} .state").inner_text() == "在岗"


async def test_on_a_phone_wrong_passwords_are_throttled_with_a_time_then_the_right_one_signs_in(
    page, server: TestServer, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "street-lead")
    await page.set_viewport_size({"width": 390, "height": 844})

    async def attempt(password: str) -> None:
        await page.get_by_label("用户名").fill("street-lead")
        await page.get_by_label("密码").fill(password)
        async with page.expect_navigation():
            await page.get_by_role("button", name="登录").click()

    await page.goto(str(server.make_url("/login")))
    for _ in range(4):
        await attempt("not the password")
        assert await page.locator("#login-error").inner_text() == "用户名或密码不正确。"
    await attempt("not the password")
    message = page.locator("#login-error")
    assert await message.is_visible()
    assert "登录失败次数过多，请于" in await message.inner_text() and "之后再试" in await message.inner_text()
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    await attempt(PASSWORD)  # still locked: refused without a check
    assert "登录失败次数过多" in await page.locator("#login-error").inner_text()
    clock.advance(timedelta(seconds=1))
    await attempt(PASSWORD)
    assert page.url.endswith("/") and await page.locator("#month-rate").is_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")


async def test_a_coordinator_follows_the_rate_from_the_district_to_an_elder_not_yet_visited(
    page, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    waiting = await make_elder(session, clock, community=areas["community"], name="王奶奶")
    await make_elder(session, clock, community=areas["community2"], name="隔壁的李爷爷")
    await make_visit(session, clock, elder=waiting)
    await session.commit()
    await coordinator_factory(areas["district"], "district-lead")

    await sign_in_page(page, server, "district-lead")
    async with page.expect_navigation():
        await page.get_by_role("link", name="粤海街道").click()
    async with page.expect_navigation():
        await page.get_by_role("link", name="科技园社区").click()
    assert await page.locator("#count-not-visited").inner_text() == "1"
    async with page.expect_navigation():
        await page.locator("a.card", has_text="本月未探访").click()
    assert "/not-visited?area=440305001001" in page.url
    assert await page.locator("#not-visited tbody tr").count() == 1
    assert "从未联系" in await page.locator("#not-visited tbody tr").inner_text()

    async with page.expect_navigation():
        await page.locator("nav.breadcrumbs").get_by_role("link", name="粤海街道").click()
    assert await page.locator("#not-visited tbody tr").count() == 2  # back up at the street: both communities
    async with page.expect_navigation():
        await page.go_back()
    async with page.expect_navigation():
        await page.get_by_role("link", name="王奶奶").click()
    assert page.url.endswith(f"/elders/{waiting.id}")
