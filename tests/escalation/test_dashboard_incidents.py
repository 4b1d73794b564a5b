"""The dashboard's emergency pages, over real HTTP: timeline, acknowledge, resolve, export, drill; area scoping."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.accounts import hash_password
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.escalation.webhooks import add_routes
from carevisit.storage.enums import CoordinatorRole, IncidentStatus
from carevisit.storage.models import Incident, OutboxMessage
from tests.dashboard.conftest import post_login
from tests.escalation.conftest import World
from tests.factories import make_coordinator

PASSWORD = "correct horse battery"


@pytest.fixture
async def dashboard(world: World, session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    app = web.Application()
    add_dashboard(
        app,
        sessions=session_factory,
        clock=world.clock,
        zone=ZoneInfo("Asia/Shanghai"),
        language="zh_CN",
        secret=b"dash-secret",
        secure_cookies=False,
    )
    add_routes(app, world.esc, auth_token=None)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def sign_in(base: str, username: str) -> aiohttp.ClientSession:
    client = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    response = await post_login(client, username, PASSWORD)
    assert response.status == 303, await response.text()
    return client


async def csrf_of(client: aiohttp.ClientSession, path: str) -> str:
    page = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def make_login(session: AsyncSession, clock: FakeClock, area: Any, username: str) -> None:
    await make_coordinator(session, clock, area=area, username=username, password_hash=hash_password(PASSWORD))
    await session.commit()


async def test_a_coordinator_follows_acknowledges_resolves_and_exports_an_emergency(
    world: World, dashboard: str, session: AsyncSession, clock: FakeClock, world_data: dict[str, Any]
) -> None:
    await make_login(session, clock, world_data["areas"]["street"], "street")
    await make_login(session, clock, world_data["areas"]["other_street"], "other")
    incident_id = await world.open()
    await world.tick()
    client = await sign_in(dashboard, "street")
    try:
        page = await (await client.get(f"/incidents/{incident_id}")).text()
        # The handling record reads as sentences, in local time, with no codes (issue 11).
        assert "王秀英" in page and "第1步：" in page and "已提交" in page
        assert "queued" not in page and "page step" not in page
        csrf = await csrf_of(client, f"/incidents/{incident_id}")
        response = await client.post(f"/incidents/{incident_id}/ack", data={"csrf": csrf}, allow_redirects=False)
        assert response.status == 303
        assert (await world.incident(incident_id)).ack_channel == "dashboard"
        empty = await client.post(f"/incidents/{incident_id}/resolve", data={"csrf": csrf, "outcome": " "})
        assert empty.status == 400 and "请填写结果" in await empty.text()
        assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
        done = await client.post(
            f"/incidents/{incident_id}/resolve",
            data={"csrf": csrf, "what_happened": "跌倒", "actions_taken": "送医", "outcome": "已住院"},
            allow_redirects=False,
        )
        assert done.status == 303
        assert (await world.incident(incident_id)).status == IncidentStatus.RESOLVED
        exported = await (await client.get(f"/incidents/{incident_id}/export.csv")).text()
        assert "已住院" in exported and exported.startswith("\ufeffat (Asia/Shanghai),what")
    finally:
        await client.close()
    stranger = await sign_in(dashboard, "other")
    try:
        assert (await stranger.get(f"/incidents/{incident_id}")).status == 404
    finally:
        await stranger.close()


async def test_a_drill_started_from_the_dashboard_pages_through_the_same_path(
    world: World, dashboard: str, session: AsyncSession, clock: FakeClock, world_data: dict[str, Any]
) -> None:
    await make_login(session, clock, world_data["areas"]["community"], "community")
    client = await sign_in(dashboard, "community")
    try:
        csrf = await csrf_of(client, "/drill")
        bad = await client.post("/drill", data={"csrf": csrf, "elder_code": "NOPE"})
        assert bad.status == 400
        response = await client.post(
            "/drill", data={"csrf": csrf, "elder_code": world_data["elder"].external_id}, allow_redirects=False
        )
        assert response.status == 303
    finally:
        await client.close()
    async with world.sessions() as s:
        drill = (await s.exec(select(Incident))).one()
    assert drill.is_drill
    await world.tick()
    rows = [r for r in await world.outbox() if isinstance(r, OutboxMessage)]
    assert rows and all(r.purpose == "drill" for r in rows)
    assert "演练" in (world.twilio.records[0].body or "")


async def test_a_viewer_in_the_dashboard_cannot_acknowledge(
    world: World, dashboard: str, session: AsyncSession, clock: FakeClock, world_data: dict[str, Any]
) -> None:
    await make_coordinator(
        session,
        clock,
        area=world_data["areas"]["community"],
        username="viewer",
        password_hash=hash_password(PASSWORD),
        role=CoordinatorRole.VIEWER,
    )
    await session.commit()
    incident_id = await world.open()
    client = await sign_in(dashboard, "viewer")
    try:
        page = await (await client.get(f"/incidents/{incident_id}")).text()
        assert f"/incidents/{incident_id}/ack" not in page  # no button that would only be refused
        cookie = next(morsel.value for morsel in client.cookie_jar if morsel.key == COOKIE)
        csrf = SessionSigner(b"dash-secret").csrf_token(cookie)  # a crafted post, valid but for the role
        response = await client.post(f"/incidents/{incident_id}/ack", data={"csrf": csrf}, allow_redirects=False)
        assert response.status == 403
    finally:
        await client.close()
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_the_exported_archive_writes_a_formula_in_a_contacts_name_as_text(
    world: World, dashboard: str, session: AsyncSession, clock: FakeClock, world_data: dict[str, Any]
) -> None:
    contact = world_data["contacts"][0]
    contact.name, contact.relation = "=cmd|' /C calc'!A0", ""
    session.add(contact)
    await session.commit()
    await make_login(session, clock, world_data["areas"]["street"], "street")
    incident_id = await world.open()
    await world.tick()
    client = await sign_in(dashboard, "street")
    try:
        exported = await (await client.get(f"/incidents/{incident_id}/export.csv")).text()
    finally:
        await client.close()
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    named = [row["who"] for row in rows if "cmd|" in row["who"]]
    assert named and all(who == "'=cmd|' /C calc'!A0" for who in named)
    assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
