"""The whole web application (dashboard and volunteer app, as `carevisit run` builds it) served over real HTTP on
127.0.0.1 against the test database; volunteers signed in by a real one-time link; Debian's Chromium at 390 px."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.care.volunteer_sign_in import issue_link_token
from carevisit.config import load_settings
from carevisit.storage.db import make_session_factory
from carevisit.storage.models import Volunteer
from carevisit.web import build_web_app
from tests.dashboard.conftest import (  # noqa: F401 — fixtures reused from the dashboard's tests
    PHONE,
    areas,
    browser,
    coordinator_factory,
    csrf_of,
    needs_chromium,
    phone,
    sign_in,
)

ServeApp = Callable[..., Awaitable[TestServer]]


def runtime_for(engine: AsyncEngine, clock: FakeClock, **settings: Any) -> Runtime:
    return Runtime(
        settings=load_settings(database_url=str(engine.url.render_as_string(hide_password=False)), **settings),
        clock=clock,
        engine=engine,
        sessions=make_session_factory(engine),
    )


@pytest.fixture
async def serve_app(engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[ServeApp]:
    """Start the service's web application with these settings (CAREVISIT_* as keywords)."""
    servers: list[TestServer] = []

    async def serve(**settings: Any) -> TestServer:
        server = TestServer(build_web_app(runtime_for(engine, clock, **settings)), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        await server.close()


@pytest.fixture
async def app_server(serve_app: ServeApp) -> TestServer:
    return await serve_app()


def client_of(server: TestServer) -> aiohttp.ClientSession:
    """A browser-like client: keeps cookies (for 127.0.0.1 too), follows nothing by itself unless asked."""
    return aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))


async def link_for(session: AsyncSession, clock: FakeClock, volunteer: Volunteer, **options: Any) -> str:
    """The path of a fresh one-time sign-in link for this volunteer (committed)."""
    assert volunteer.id is not None
    token = await issue_link_token(session, clock=clock, volunteer_id=volunteer.id, created_by="test", **options)
    await session.commit()
    return f"/v/in/{token}"


async def sign_in_volunteer(
    server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> aiohttp.ClientSession:
    """A client signed in as this volunteer the way a phone is: the link's page, then its 进入 button."""
    client = client_of(server)
    path = await link_for(session, clock, volunteer)
    assert (await client.get(path)).status == 200
    entered = await client.post(path, allow_redirects=False)
    assert entered.status == 303 and entered.headers["Location"] == "/v/", await entered.text()
    return client


async def app_csrf(client: aiohttp.ClientSession, path: str = "/v/") -> str:
    """The CSRF token a volunteer page's forms carry (every POST of the app needs it)."""
    page = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no form"
    return match.group(1)
