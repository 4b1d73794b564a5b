"""Signing in by link in Debian's Chromium at 390 px, as a volunteer's phone does; and the coordinator's QR code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.models import Area, Volunteer
from tests.dashboard.conftest import sign_in_page
from tests.factories import make_volunteer
from tests.volunteer_app.conftest import PHONE, link_for, needs_chromium

pytestmark = needs_chromium


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    return made


async def _fits_the_phone(page: Any) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} scrolls sideways: {width} px"


async def test_a_volunteer_signs_in_by_link_and_lands_on_my_visits(
    browser: Any, app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    url = str(app_server.make_url(await link_for(session, clock, volunteer)))
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(url)
    enter = phone.get_by_role("button", name="进入")
    box = await enter.bounding_box()
    assert box and box["height"] >= 48 and box["width"] >= 300  # one big button, for a thumb
    await _fits_the_phone(phone)

    await enter.click()
    await phone.wait_for_url("**/v/")
    assert await phone.locator("h1").inner_text() == "我的探访"
    await _fits_the_phone(phone)
    await phone.reload()  # the device cookie keeps the phone signed in
    assert await phone.locator("h1").inner_text() == "我的探访"

    later = await browser.new_page(viewport=PHONE)  # the same link, opened again on another phone
    await later.goto(url)
    assert await later.locator("#refused").inner_text() == "链接已失效"
    assert await later.get_by_role("button", name="进入").count() == 0
    await _fits_the_phone(later)


async def test_an_expired_link_is_refused_in_the_browser(
    browser: Any, app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    url = str(app_server.make_url(await link_for(session, clock, volunteer)))
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(url)  # opened in time, tapped too late
    clock.advance(timedelta(hours=73))
    await phone.get_by_role("button", name="进入").click()
    await phone.wait_for_selector("#refused")
    assert "社区工作人员" in await phone.locator("main").inner_text()
    await phone.goto(str(app_server.make_url("/v/")))
    await phone.wait_for_url("**/v/signed-out")


async def test_signing_out_on_the_phone_is_at_the_bottom_of_home_and_asks_first(
    browser: Any, app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(str(app_server.make_url(await link_for(session, clock, volunteer))))
    await phone.get_by_role("button", name="进入").click()
    await phone.wait_for_url("**/v/")
    assert await phone.locator("header form, header button").count() == 0  # one stray tap signs nobody out
    await phone.locator("summary", has_text="退出登录").click()  # opens the question, signs nothing out yet
    assert phone.url.endswith("/v/")
    await phone.get_by_role("button", name="确定退出").click()
    await phone.wait_for_url("**/v/signed-out?done=1")
    assert "您已在这部手机上退出" in await phone.locator("main").inner_text()
    await phone.goto(str(app_server.make_url("/v/")))
    await phone.wait_for_url("**/v/signed-out")


async def test_the_volunteers_page_shows_the_sign_in_qr_code_on_a_phone(
    browser: Any, app_server: TestServer, volunteer: Volunteer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "street-lead")
    page = await browser.new_page(viewport=PHONE)
    await sign_in_page(page, app_server, "street-lead")
    await page.goto(str(app_server.make_url("/volunteers")))
    await page.locator(f"#volunteer-{volunteer.id} form[action$='/app-link'] button").click()
    qr = page.locator("#app-link-qr svg")
    await qr.wait_for()
    box = await qr.bounding_box()
    assert box and 100 <= box["width"] <= PHONE["width"] and abs(box["width"] - box["height"]) < 1
    link = await page.locator("#app-link-value").inner_text()
    assert link.startswith(str(app_server.make_url("/v/in/")))
    await _fits_the_phone(page)

    phone = await browser.new_page(viewport=PHONE)  # the volunteer opens what the code says
    await phone.goto(link)
    await phone.get_by_role("button", name="进入").click()
    await phone.wait_for_url("**/v/")
