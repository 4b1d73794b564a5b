"""The elder's page on a phone (390 px wide, Debian's Chromium via Playwright): open an elder, pause them, assign a
visit to a named volunteer, as a community worker does it."""

from __future__ import annotations

from datetime import date

from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import ElderStatus
from carevisit.storage.models import Area, Elder, Visit
from tests.dashboard.conftest import needs_chromium, sign_in_page
from tests.factories import make_elder, make_visit, make_volunteer

pytestmark = needs_chromium


async def test_on_a_phone_a_coordinator_pauses_an_elder_and_assigns_a_visit_to_a_named_volunteer(
    phone, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"], name="周奶奶", external_id="FT-0007")
    await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    chosen = await make_volunteer(session, clock, communities=[areas["community"]], name="张叔叔")
    # Paused until the 20th: the visit of the 21st on stays, and is the one to give someone.
    later = await make_visit(session, clock, elder=elder, window_start=date(2026, 3, 18))
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    page = phone

    await sign_in_page(page, server, "street-lead")
    await page.goto(str(server.make_url(f"/elders/{elder.id}")))
    assert "周奶奶" in await page.locator("h1").inner_text()
    assert await page.locator("#status").inner_text() == "正常"

    await page.locator("#pause-form input[name=until]").fill("2026-03-20")
    async with page.expect_navigation():
        await page.get_by_role("button", name="暂停探访（住院）").click()
    assert "已暂停探访：取消 0 项，顺延 1 项。" in await page.locator("#notice").inner_text()
    assert await page.locator("#status").inner_text() == "暂停（住院等）（至 2026-03-20）"

    row = page.locator(f"#open-visit-{later.id}")
    await row.get_by_label("志愿者").select_option(str(chosen.id))
    async with page.expect_navigation():
        await row.get_by_role("button", name="指派").click()
    assert f"已指派给 张叔叔（{chosen.external_id}）。" in await page.locator("#notice").inner_text()
    assert await page.locator(f"#open-visit-{later.id} .volunteer").inner_text() == "张叔叔"
    stored = (
        await session.exec(select(Visit).where(Visit.id == later.id).execution_options(populate_existing=True))
    ).one()
    assert stored.volunteer_id == chosen.id and stored.window_start == date(2026, 3, 21)
    paused = (
        await session.exec(select(Elder).where(Elder.id == elder.id).execution_options(populate_existing=True))
    ).one()
    assert paused.status == ElderStatus.PAUSED


async def test_the_elder_page_and_the_assign_page_fit_390_px(
    phone, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"], name="周奶奶", address="科技园路" * 12)
    await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    visit = await make_visit(session, clock, elder=elder, checklist={"health": "ok", "mood": "concern"})
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    page = phone
    await sign_in_page(page, server, "street-lead")
    for path in (f"/elders/{elder.id}", f"/visits/{visit.id}/assign"):
        await page.goto(str(server.make_url(path)))
        width = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways at 390 px: {width}"
