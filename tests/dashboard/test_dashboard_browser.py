"""The dashboard in a real browser (Debian's Chromium driven by Playwright), as a coordinator uses it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from care.clock import FakeClock
from storage.enums import VisitStatus
from storage.models import Area
from tests.dashboard.conftest import PASSWORD
from tests.factories import make_elder, make_visit

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.async_api", reason="pip install playwright (in the test extra)")
pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium: apt-get install chromium (.ci/run does)"
)


@pytest.fixture
async def page() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = await browser.new_page()
        yield page
        await browser.close()


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
