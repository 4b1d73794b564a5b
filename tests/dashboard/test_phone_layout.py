"""Every page of the dashboard at 390 px (a phone held upright) in Debian's Chromium: nothing scrolls sideways, no
menu word breaks in two, every table cell names its column for the stacked-card layout. Pages come from the app's
own route table, so a page added later is checked without anyone remembering to list it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.phones import mask_phone
from carevisit.dashboard.display_texts import TEXTS as SHOWN
from carevisit.storage.enums import CoordinatorRole
from tests.dashboard.conftest import PHONE, csrf_of, needs_chromium, sign_in, sign_in_page
from tests.dashboard.seed_pages import Seeded, seed_programme
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv

pytestmark = needs_chromium
SHOTS = os.environ.get("CAREVISIT_SCREENSHOTS")  # a directory: keep a picture of every page to look at
# A route parameter that no seeded value fills is a page this test cannot reach: say so rather than skip it.
CHOSEN = {"fmt": "csv", "n": 0}
# Photos are files, not pages, and answer 404 (not the sign-in page) to anyone who may not see them.
PHOTO = re.compile(r"/photos?(/\d+)?$")


@pytest.fixture
async def seeded(session: AsyncSession, clock: FakeClock, coordinator_factory) -> Seeded:  # type: ignore[no-untyped-def]
    programme = await seed_programme(session, clock)
    admin = await coordinator_factory(
        programme.district, "district-admin", role=CoordinatorRole.ADMIN, name="南山区民政局养老服务科欧阳志远"
    )
    programme.ids.update(coordinator_id=admin.id, username=admin.username)  # for account pages
    await coordinator_factory(
        programme.community, "community-viewer", role=CoordinatorRole.VIEWER, name="科技园社区居委会只读账号司徒"
    )
    return programme


def page_paths(app: web.Application, ids: dict[str, int | str]) -> list[str]:
    """Every GET route as a path, `{name}` filled from the seed; static files and unknown parameters aside."""
    paths, unknown = [], []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        if route.method != "GET" or "prefix" in info:  # static files have a prefix, not a page
            continue
        template = info.get("path") or info.get("formatter") or ""
        names = re.findall(r"{(\w+)}", template)
        missing = [name for name in names if name not in ids and name not in CHOSEN]
        if missing:
            unknown.append(f"{template}: {', '.join(missing)}")
            continue
        paths.append(template.format(**(CHOSEN | ids)))
    assert not unknown, f"add a seeded value for these route parameters in tests/dashboard/seed_pages.py: {unknown}"
    return sorted(set(paths))


ADMIN_ONLY = "/admin/"


async def html_pages(server: TestServer, paths: list[str], username: str) -> list[str]:
    """The paths that answer with a page (downloads and redirects elsewhere are not pages to lay out). Admin pages
    refuse a viewer: that refusal is the page they get, and only there."""
    client = await sign_in(server, username)
    pages = []
    try:
        for path in paths:
            if PHOTO.search(path):
                continue
            response = await client.get(path, allow_redirects=False)
            if username != "district-admin" and path.startswith(ADMIN_ONLY) and response.status == 403:
                continue
            assert response.status < 400, f"{path} answered {response.status}: {await response.text()}"
            if response.status == 200 and response.content_type == "text/html":
                pages.append(path)
    finally:
        await client.close()
    return pages


async def signed_in_phone(browser, server: TestServer, *, username: str = "district-admin"):  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
    page = await context.new_page()
    await sign_in_page(page, server, username)
    return page


async def uploaded_roster(server: TestServer, username: str, tmp_path: Path) -> str:
    """The token of a roster upload waiting for its confirmation, one row of it bad (the page lists problems)."""
    rows = [elder_row("E001"), elder_row("E002", birth_date="1942-13-40")]
    content = write_csv(tmp_path / "roster.csv", ELDER_HEADER_ZH, rows).read_bytes()
    client = await sign_in(server, username)
    try:
        form = aiohttp.FormData()
        form.add_field("csrf", await csrf_of(client, "/admin/roster"))
        form.add_field("kind", "elders")
        form.add_field("roster", content, filename="名单.csv", content_type="text/csv")
        response = await client.post("/admin/roster", data=form, allow_redirects=False)
        assert response.status == 303, await response.text()
        return response.headers["Location"].rsplit("/", 1)[-1]
    finally:
        await client.close()


LAYOUT = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  brokenLinks: [...document.querySelectorAll('header nav a')]
      .filter(a => a.getClientRects().length !== 1).map(a => a.textContent.trim()),
  unlabelled: [...document.querySelectorAll('td:not([data-label])')].map(td => td.textContent.trim().slice(0, 30)),
  wide: [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
      .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 30)).slice(0, 5),
  smallTargets: [...document.querySelectorAll(
      'button, header nav a, select, input:not([type=hidden]):not([type=checkbox]):not([type=radio])')]
      .filter(e => e.getBoundingClientRect().height < 43.5).map(e => e.outerHTML.slice(0, 60)),
})"""


@pytest.mark.parametrize("username", ["district-admin", "community-viewer"])  # every form, and none
async def test_every_page_fits_a_phone_without_sideways_scrolling(
    browser, server: TestServer, seeded: Seeded, username: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    if username == "district-admin":  # the check page of a roster upload exists once something was uploaded
        seeded.ids["token"] = await uploaded_roster(server, username, tmp_path)
    pages = await html_pages(server, page_paths(server.app, seeded.ids), username)
    assert {"/", "/incidents", f"/incidents/{seeded.ids['incident_id']}", "/volunteers"} <= set(pages)
    phone = await signed_in_phone(browser, server, username=username)
    for path in [*pages, f"/?area={seeded.community.code}"]:
        response = await phone.goto(str(server.make_url(path)))
        assert response is not None and response.ok, path
        layout = await phone.evaluate(LAYOUT)
        if SHOTS:
            name = f"{username}-" + (re.sub(r"\W+", "_", path).strip("_") or "overview")
            await phone.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
        assert layout["scrollWidth"] <= layout["innerWidth"], f"{path} scrolls sideways: {layout['wide']}"
        assert layout["brokenLinks"] == [], f"{path}: menu words broken across lines"
        assert layout["unlabelled"] == [], f"{path}: cells without data-label (the phone card names each column)"
        assert layout["smallTargets"] == [], f"{path}: controls under 44 px high"


async def test_the_signed_out_page_fits_a_phone_too(browser, server: TestServer) -> None:  # type: ignore[no-untyped-def]
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(str(server.make_url("/login")))
    layout = await page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= layout["innerWidth"]


async def test_the_menu_keeps_the_area_in_view_and_names_who_is_signed_in(
    browser, server: TestServer, seeded: Seeded
) -> None:  # type: ignore[no-untyped-def]
    phone = await signed_in_phone(browser, server)
    await phone.goto(str(server.make_url(f"/?area={seeded.community.code}")))
    hrefs = await phone.locator("header nav a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert f"/problems?area={seeded.community.code}" in hrefs and f"/admin/roster?area={seeded.community.code}" in hrefs
    assert await phone.locator("#signed-in").inner_text() == "南山区民政局养老服务科欧阳志远（管理员）"


async def test_on_a_phone_the_header_and_the_whole_menu_take_one_short_band(
    browser, server: TestServer, seeded: Seeded
) -> None:  # type: ignore[no-untyped-def]
    phone = await signed_in_phone(browser, server)  # an admin: the longest menu, the longest name
    await phone.goto(str(server.make_url("/")))
    header = await phone.locator("header").bounding_box()
    assert header is not None and header["height"] <= 150, header  # the trial's phone: about 230 px
    tops = await phone.locator("header nav a").evaluate_all(
        "links => links.map(a => Math.round(a.getBoundingClientRect().top))"
    )
    assert len(tops) == 11 and len(set(tops)) == 1  # one row, which scrolls sideways by itself
    assert await phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    async with phone.expect_navigation():
        await phone.locator("header nav a", has_text="名册导入").click()  # the last link: reached by scrolling
    assert phone.url.endswith("/admin/roster")


# Words that exist only as codes in the data: an English page must show none of them, nor any Chinese label.
CODE = re.compile(r"\b(?:[a-z]+_[a-z_]+|incident\.\w+|queued|sid)\b")


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_english_pages_show_words_not_codes(browser, server: TestServer, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    chinese_labels = {  # area levels aside: 街道 is also part of the seeded names
        text
        for key, text in SHOWN["zh_CN"].items()
        if "{" not in text and len(text) >= 2 and not key.startswith("show.area_level.")
    }
    phone = await signed_in_phone(browser, server)
    for path in [
        "/",
        "/problems",
        "/incidents",
        f"/incidents/{seeded.ids['incident_id']}",
        "/volunteers",
        "/planning",
        "/drill",
    ]:
        await phone.goto(str(server.make_url(path)))
        layout = await phone.evaluate(LAYOUT)  # longer English words must fit as well
        assert layout["scrollWidth"] <= layout["innerWidth"] and layout["brokenLinks"] == [], (path, layout)
        text = await phone.locator("body").inner_text()
        assert not CODE.findall(text), f"{path} shows codes: {CODE.findall(text)}"
        shown = sorted(label for label in chinese_labels if label in text)
        assert shown == [], f"{path} shows Chinese labels in English: {shown}"
    await phone.goto(str(server.make_url(f"/incidents/{seeded.ids['incident_id']}")))
    timeline = await phone.locator("#timeline").inner_text()
    assert f"SMS to 诸葛丽丽（女儿） {mask_phone('+8613812345678')}: delivered" in timeline
    assert "phone call to" in timeline and ": no answer" in timeline


async def test_every_get_route_is_enumerated_and_asks_for_a_sign_in(server: TestServer, seeded: Seeded) -> None:
    # The enumeration must not quietly drop pages: every GET route but static files becomes a path.
    routes = [r for r in server.app.router.routes() if r.method == "GET" and "prefix" not in r.resource.get_info()]
    assert len(page_paths(server.app, seeded.ids)) == len({r.resource.canonical for r in routes})
    async with aiohttp.ClientSession() as client:  # and signed out, every one of them asks for a sign-in
        for path in page_paths(server.app, seeded.ids):
            response = await client.get(str(server.make_url(path)), allow_redirects=False)
            assert response.status in ((404,) if PHOTO.search(path) else (200, 303)), path
