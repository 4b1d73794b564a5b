"""The volunteers page gives a coordinator a volunteer-app sign-in link as a QR code and signs a volunteer's phones
out; viewers and coordinators of other areas cannot. Over real HTTP against the whole application."""

from __future__ import annotations

import html
import re

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, AuditEntry, Volunteer, VolunteerDevice, VolunteerSignInLink
from tests.factories import make_volunteer
from tests.volunteer_app.conftest import ServeApp, client_of, csrf_of, sign_in, sign_in_volunteer


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    return made


def _link_of(page: str) -> str:
    found = re.search(r'id="app-link-value">([^<]+)<', page)
    assert found, page
    return html.unescape(found.group(1))


async def _links(session: AsyncSession) -> list[VolunteerSignInLink]:
    fresh = select(VolunteerSignInLink).execution_options(populate_existing=True)
    return list((await session.exec(fresh)).all())


async def test_a_coordinator_gets_a_qr_code_whose_link_signs_the_volunteer_in(
    app_server: TestServer, session: AsyncSession, volunteer: Volunteer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    lead = await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(app_server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{volunteer.id}/app-link", data={"csrf": csrf})
        page = await answer.text()
        assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    assert re.search(r'<div class="qr-code" id="app-link-qr"><svg [^>]*class="qr"', page)
    assert "登录码" in page and volunteer.external_id in page
    link = _link_of(page)
    assert re.fullmatch(re.escape(str(app_server.make_url(""))) + r"/v/in/[A-Za-z0-9_-]{40,}", link)
    [stored] = await _links(session)
    assert stored.volunteer_id == volunteer.id and stored.created_by == f"coordinator:{lead.id}"

    async with client_of(app_server) as phone:
        path = link.removeprefix(str(app_server.make_url("")))
        assert (await phone.post(path, allow_redirects=False)).headers["Location"] == "/v/"
        assert (await phone.get("/v/", allow_redirects=False)).status == 200


async def test_links_use_the_public_url(
    serve_app: ServeApp, session: AsyncSession, volunteer: Volunteer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    # Plain http, so that the test client keeps the session cookie (behind https it is Secure).
    server = await serve_app(public_url="http://care.example.cn/", secret_key="k" * 32)
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{volunteer.id}/app-link", data={"csrf": csrf})
        link = _link_of(await answer.text())
    assert re.fullmatch(r"http://care\.example\.cn/v/in/[A-Za-z0-9_-]{40,}", link)


async def test_a_viewer_cannot_create_links_or_sign_devices_out(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer, areas, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "street-viewer", role=CoordinatorRole.VIEWER)
    phone = await sign_in_volunteer(app_server, session, clock, volunteer)
    async with phone, await sign_in(app_server, "street-viewer") as viewer:
        page = await (await viewer.get("/volunteers")).text()
        assert "app-link" not in page and "app-revoke" not in page  # no buttons offered
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf  # the sign-out form's
        for action in ("app-link", "app-revoke"):
            answer = await viewer.post(f"/volunteers/{volunteer.id}/{action}", data={"csrf": csrf.group(1)})
            assert answer.status == 403
        assert (await phone.get("/v/", allow_redirects=False)).status == 200
    assert len(await _links(session)) == 1  # the phone's own


async def test_a_coordinator_of_another_area_cannot_reach_the_volunteer(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer, areas, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["other_street"], "other-lead")
    phone = await sign_in_volunteer(app_server, session, clock, volunteer)
    async with phone, await sign_in(app_server, "other-lead") as other:
        csrf = await csrf_of(other, "/volunteers")
        for action in ("app-link", "app-revoke"):
            answer = await other.post(f"/volunteers/{volunteer.id}/{action}", data={"csrf": csrf})
            assert answer.status == 404
        assert (await phone.get("/v/", allow_redirects=False)).status == 200
    assert len(await _links(session)) == 1


async def test_signing_a_volunteers_devices_out(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer, areas, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    lead = await coordinator_factory(areas["street"], "street-lead")
    phone = await sign_in_volunteer(app_server, session, clock, volunteer)
    async with phone, await sign_in(app_server, "street-lead") as street:
        listed = await (await street.get("/volunteers")).text()
        assert re.search(rf'id="volunteer-{volunteer.id}".*?class="app-devices">1<', listed, re.S)
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{volunteer.id}/app-revoke", data={"csrf": csrf})
        page = await answer.text()
        who = f"{volunteer.name}（{volunteer.external_id}）"
        assert answer.status == 200 and f"志愿者 {who} 的 1 台设备已退出志愿者应用" in page
        assert re.search(rf'id="volunteer-{volunteer.id}".*?class="app-devices">0<', page, re.S)
        home = await phone.get("/v/", allow_redirects=False)
        assert home.status == 302 and home.headers["Location"] == "/v/signed-out"
    fresh = select(VolunteerDevice).execution_options(populate_existing=True)
    [device] = (await session.exec(fresh)).all()
    assert device.revoked_by == f"coordinator:{lead.id}"
    actions = (await session.exec(select(AuditEntry.action))).all()
    assert "app.devices_revoke" in actions


async def test_no_link_for_an_inactive_volunteer(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    gone = await make_volunteer(session, clock, communities=[areas["community"]], active=False)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(app_server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{gone.id}/app-link", data={"csrf": csrf})
        assert answer.status == 409
    assert await _links(session) == []
