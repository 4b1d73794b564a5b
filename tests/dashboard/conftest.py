"""A dashboard served over real HTTP on 127.0.0.1 against the test database, signed-in clients, and Chromium."""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.accounts import hash_password
from carevisit.dashboard.app import add_dashboard
from carevisit.storage.models import Area
from tests.factories import make_area_tree, make_coordinator

PASSWORD = "correct horse battery"


@pytest.fixture
async def areas(session: AsyncSession) -> dict[str, Area]:
    tree = await make_area_tree(session)
    await session.commit()
    return tree


@pytest.fixture
async def server(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[TestServer]:
    language = getattr(request, "param", "zh_CN")
    app = web.Application()
    add_dashboard(
        app,
        sessions=session_factory,
        clock=clock,
        zone=ZoneInfo("Asia/Shanghai"),
        language=language,
        secret=b"test-secret",
        secure_cookies=False,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def login_token(client: aiohttp.ClientSession) -> str:
    """Open the sign-in page as a browser does: it sets the pre-session cookie its form's CSRF token is bound to."""
    page = await (await client.get("/login")).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the sign-in page has no CSRF token"
    return match.group(1)


async def post_login(client: aiohttp.ClientSession, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
    data = {"username": username, "password": password, "csrf": await login_token(client)}
    return await client.post("/login", data=data, allow_redirects=False)


async def sign_in(server: TestServer, username: str, password: str = PASSWORD) -> aiohttp.ClientSession:
    client = aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    response = await post_login(client, username, password)
    assert response.status == 303, await response.text()
    return client


async def csrf_of(client: aiohttp.ClientSession, path: str) -> str:
    page = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no form"
    return match.group(1)


@pytest.fixture
async def coordinator_factory(session: AsyncSession, clock: FakeClock):  # type: ignore[no-untyped-def]
    async def make(area: Area, username: str, **overrides):  # type: ignore[no-untyped-def]
        coordinator = await make_coordinator(
            session, clock, area=area, username=username, password_hash=hash_password(PASSWORD), **overrides
        )
        await session.commit()
        return coordinator

    return make


# --- Debian's Chromium, driven by Playwright (never a browser download) ---------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}  # a phone held upright
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's chromium (apt-get install chromium; .ci/run does) and playwright (the test extra)",
)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright  # imported here: the HTTP tests need no browser

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Any) -> Any:
    return await browser.new_page()


@pytest.fixture
async def phone(browser: Any) -> Any:
    return await browser.new_page(viewport=PHONE)


async def sign_in_page(page: Any, server: TestServer, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would, and land on the overview (in either language)."""
    await page.goto(str(server.make_url("/login")))
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.locator("form.login button").click()
    await page.wait_for_url("**/")
