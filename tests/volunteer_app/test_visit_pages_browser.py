"""The volunteer app in Debian's Chromium on a 390 px phone: sign in by link, confirm a visit in at most four taps
(counted), report a problem with a photo, raise an emergency and watch the paging, and another volunteer's visit
refused; no page wider than the phone."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.volunteer_sign_in import issue_link_token
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.pager import FakePager
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.storage.enums import VisitOutcome, VisitStatus
from carevisit.storage.models import Incident, Problem, Visit, Volunteer
from carevisit.volunteer_app import emergency_views
from tests.dashboard.conftest import PHONE, browser, needs_chromium, phone
from tests.volunteer_app.visit_pages_fixtures import PNG, World, photo_dir, server, world

__all__ = ["browser", "phone", "photo_dir", "server", "world"]  # fixtures used by name

pytestmark = needs_chromium


class Taps:
    """Counts what the volunteer taps, so the test says how many it took."""

    def __init__(self, page: Any) -> None:
        self.page, self.count = page, 0

    async def tap(self, selector: str) -> None:
        self.count += 1
        await self.page.locator(selector).first.click()
        await self.page.wait_for_load_state()


async def fits(page: Any) -> None:
    """No page scrolls sideways; with CAREVISIT_SCREENSHOTS naming a directory, each page is kept as a picture."""
    if shots := os.environ.get("CAREVISIT_SCREENSHOTS"):
        name = re.sub(r"[^a-z0-9]+", "-", page.url.split("/v/", 1)[-1].lower()).strip("-") or "home"
        await page.screenshot(path=str(Path(shots) / f"v-{name}.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"
    heights = await page.evaluate(
        "[...document.querySelectorAll('.vp-btn, .vp-visit, .vp-toggle, .vp-choice')]"
        ".filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().height)"
    )
    assert all(h >= 48 for h in heights), f"{page.url} has a touch target under 48 px: {heights}"


async def signed_in(page: Any, server: TestServer, session: AsyncSession, clock: FakeClock, who: Volunteer) -> None:
    assert who.id is not None
    token = await issue_link_token(session, clock=clock, volunteer_id=who.id, created_by="test")
    await session.commit()
    await page.goto(str(server.make_url(f"/v/in/{token}")))
    await page.get_by_role("button", name="进入").click()
    await page.wait_for_url("**/v/")


async def test_confirming_from_the_list_takes_at_most_four_taps(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await fits(phone)
    taps = Taps(phone)
    await taps.tap("a.vp-visit:has-text('王秀英')")
    await fits(phone)
    await taps.tap("a.vp-btn:has-text('电话')")
    await fits(phone)
    await taps.tap("button:has-text('一切正常')")
    assert "已确认" in await phone.locator("main").inner_text()
    assert taps.count == 3
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and visit.status == VisitStatus.DONE and visit.done_mode == "phone"
    await fits(phone)

    await phone.goto(str(server.make_url("/v/")))
    taps = Taps(phone)
    await taps.tap("a.vp-visit:has-text('李桂兰')")
    await taps.tap("a.vp-btn:has-text('上门入户')")
    await taps.tap("a:has-text('有问题')")
    await fits(phone)
    await taps.tap("button:has-text('全部正常')")
    assert taps.count == 4
    visit = await session.get(Visit, world.overdue.id, populate_existing=True)
    assert visit is not None and visit.status == VisitStatus.DONE and visit.outcome == VisitOutcome.WELL


async def test_a_problem_with_a_photo_taken_on_the_phone(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await phone.locator("a:has-text('报告问题')").click()
    await phone.locator("label.vp-choice:has-text('王秀英')").click()
    await phone.locator("label.vp-choice:has-text('居家安全')").click()
    await phone.locator("textarea[name=description]").fill("煤气灶漏气")
    await phone.locator("input[type=file]").set_input_files(
        {"name": "IMG_0001.png", "mimeType": "image/png", "buffer": PNG}
    )
    await phone.locator(".vp-photo-state:has-text('照片已上传')").wait_for()
    await fits(phone)
    await phone.locator("button:has-text('提交')").click()
    await phone.wait_for_url("**/v/?reported=1")
    problem = (await session.exec(select(Problem))).one()
    assert problem.description == "煤气灶漏气" and problem.attachments
    assert str(problem.attachments[0]["ref"]).endswith(".png")


async def test_a_photo_that_failed_to_upload_is_kept_and_sent_again_on_retry(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await phone.locator("a.vp-visit:has-text('王秀英')").click()
    await phone.locator("a.vp-btn:has-text('上门入户')").click()
    await phone.locator("button:has-text('一切正常')").click()
    await phone.wait_for_url("**/done")
    dropped: list[str] = []

    async def drop_first(route: Any) -> None:  # the weak line loses the first upload
        if not dropped:
            dropped.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await phone.route("**/v/photos", drop_first)
    await phone.locator("input[type=file]").set_input_files(
        {"name": "IMG_0002.png", "mimeType": "image/png", "buffer": PNG}
    )
    await phone.locator(".vp-photo-state:has-text('照片上传失败')").wait_for()
    retry = phone.locator("button.vp-retry")
    assert await retry.is_visible()
    await fits(phone)
    await retry.click()
    await phone.locator(".vp-photo-state:has-text('照片已上传')").wait_for()
    await phone.locator("button:has-text('保存')").click()
    await phone.wait_for_url("**/done?saved=1")
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert dropped and visit is not None and visit.photo_ref and visit.photo_ref.endswith(".png")


async def test_an_emergency_shows_the_numbers_the_contacts_and_then_the_paging(
    phone: Any,
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emergency_views, "POLL_SECONDS", 2)
    await signed_in(phone, server, session, clock, world.me)
    await phone.locator("a.vp-sos").click()  # one tap from the home page…
    for number in ("120", "110", "119"):
        assert await phone.locator(f"a[href='tel:{number}']").count() == 1
    await fits(phone)
    await phone.locator("button:has-text('🆘 王秀英')").click()  # …and the elder
    await phone.wait_for_url("**/v/incidents/*")
    incident = (await session.exec(select(Incident))).one()
    assert incident.elder_id == world.elder.id
    assert await phone.locator("a[href='tel:+8613912345678']:has-text('王芳')").count() == 1
    for number in ("120", "110", "119"):
        assert await phone.locator(f"a[href='tel:{number}']").count() == 1
    await fits(phone)
    esc = Escalation(
        sessions=session_factory,
        clock=clock,
        pager=FakePager(),
        config=EscalationConfig(policy=DEFAULT_POLICY),
        secret=None,
        public_url=None,
    )
    await run_cycle(esc)
    # The page's script fetches the paging block again by itself: no reload.
    await phone.locator("#paging li:has-text('短信通知王芳（女儿）')").wait_for(timeout=15000)
    await fits(phone)


async def test_another_volunteers_visit_is_refused(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    response = await phone.goto(str(server.make_url(f"/v/visits/{world.others_visit.id}")))
    assert response.status == 404
    text = await phone.locator("main").inner_text()
    assert "没有找到" in text and "陈阿婆" not in text
    await fits(phone)
