"""What a user trial at 390 px found, in Debian's Chromium: the photo form (no stray 重试, no English file picker, a
photo kept without 保存, what was saved shown), 全部正常 gone once a concern is ticked, and no text under 16 px."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import VisitOutcome, VisitStatus
from carevisit.storage.models import Visit
from tests.dashboard.conftest import browser, needs_chromium, phone
from tests.volunteer_app.test_visit_pages_browser import fits, signed_in
from tests.volunteer_app.visit_pages_fixtures import PNG, World, photo_dir, server, world

__all__ = ["browser", "phone", "photo_dir", "server", "world"]  # fixtures used by name

pytestmark = needs_chromium

# Every element that shows text of its own, with its computed size: what a person in their sixties must read.
SMALL_TEXT = """
[...document.querySelectorAll('body *')]
  .filter(e => e.offsetParent !== null && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => [e.tagName + '.' + e.className, parseFloat(getComputedStyle(e).fontSize), e.textContent.trim()])
  .filter(([_, size]) => size < 16)
"""


async def _visit(session: AsyncSession, visit_id: int | None) -> Visit:
    visit = await session.get(Visit, visit_id, populate_existing=True)
    assert visit is not None
    return visit


async def no_small_text(page: Any) -> None:
    small = await page.evaluate(SMALL_TEXT)
    assert not small, f"{page.url} has text under 16 px: {small}"


async def test_the_photo_form_is_chinese_keeps_the_photo_at_once_and_shows_what_was_saved(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await phone.locator("a.vp-visit:has-text('王秀英')").click()
    await phone.locator("a.vp-btn:has-text('上门入户')").click()
    await phone.locator("button:has-text('一切正常')").click()
    await phone.wait_for_url("**/done")
    assert not await phone.locator("button.vp-retry").is_visible()  # nothing failed: no 重试
    picker = await phone.locator("input[type=file]").bounding_box()
    assert picker is None or picker["width"] <= 1  # the browser's "Choose File" is out of sight…
    label = phone.locator("label.vp-file")
    assert "还没有选照片" in await label.inner_text()  # …our own words say what is chosen
    await no_small_text(phone)
    await phone.locator("input[type=file]").set_input_files(
        {"name": "IMG_0004.png", "mimeType": "image/png", "buffer": PNG}
    )
    await phone.locator(".vp-photo-state:has-text('照片已上传')").wait_for()
    assert "已选好照片" in await label.inner_text()
    await phone.locator("a:has-text('返回我的探访')").first.click()  # leaves without 保存
    await phone.wait_for_url("**/v/")
    visit = await _visit(session, world.visit.id)
    assert visit.photo_ref and visit.photo_ref.endswith(".png")  # not lost

    await phone.goto(str(server.make_url(f"/v/visits/{world.visit.id}/done")))
    await phone.locator("textarea[name=note]").fill("老人精神很好")
    await phone.locator("button:has-text('保存')").click()
    await phone.wait_for_url("**/done?saved=1")
    kept = phone.locator(".vp-kept")
    assert "老人精神很好" in await kept.inner_text()
    thumb = kept.locator("img.vp-thumb")
    assert await thumb.evaluate("img => img.complete && img.naturalWidth > 0")  # the photo itself, loaded
    await fits(phone)
    await no_small_text(phone)


async def test_all_fine_goes_once_a_concern_is_ticked_and_the_ticks_are_recorded(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await phone.goto(str(server.make_url(f"/v/visits/{world.visit.id}/checklist?mode=home")))
    all_fine = phone.locator("button:has-text('全部正常')")
    assert await all_fine.is_visible()
    await phone.locator("label.vp-toggle:has-text('家人很少来往')").click()
    assert not await all_fine.is_visible()  # it would throw the tick away
    await fits(phone)
    await phone.locator("button:has-text('完成')").click()
    await phone.wait_for_url("**/done?problems=1")
    visit = await _visit(session, world.visit.id)
    assert visit.status == VisitStatus.DONE and visit.outcome == VisitOutcome.PROBLEM
    assert visit.checklist and visit.checklist["family"] == "concern"


async def test_no_text_under_16_px_on_the_pages_a_volunteer_reads(
    phone: Any, server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await signed_in(phone, server, session, clock, world.me)
    await no_small_text(phone)  # home: the 🆘 hint line was 13.6 px
    await phone.goto(str(server.make_url(f"/v/visits/{world.visit.id}/how?mode=home")))
    await no_small_text(phone)  # the outcome page's hints
    await phone.goto(str(server.make_url("/v/sos")))
    await no_small_text(phone)
    await phone.locator("button:has-text('🆘 王秀英')").click()
    await phone.wait_for_url("**/v/incidents/*")
    await no_small_text(phone)  # the contact's number, the 每几秒自动更新 note
    assert "139 1234 5678" in await phone.locator("a.vp-call").inner_text()
    await fits(phone)
