"""Signing in to the volunteer app by a one-time link and out again, over real HTTP against the whole application."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.volunteer_sign_in import revoke_devices
from carevisit.storage.models import Area, Volunteer, VolunteerDevice, VolunteerSignInLink
from carevisit.volunteer_app.guard import DEVICE_COOKIE
from tests.factories import make_volunteer
from tests.volunteer_app.conftest import ServeApp, app_csrf, client_of, link_for, sign_in_volunteer

REFUSED = "链接已失效"


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    return made


async def _devices(session: AsyncSession) -> list[VolunteerDevice]:
    fresh = select(VolunteerDevice).order_by(VolunteerDevice.id).execution_options(populate_existing=True)  # type: ignore[arg-type]
    return list((await session.exec(fresh)).all())


async def test_opening_a_link_only_shows_the_enter_button(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as client:
        for _ in range(3):  # a chat app's preview, then the volunteer, then again
            page = await client.get(path)
            assert page.status == 200
            text = await page.text()
            assert "进入" in text and 'method="post"' in text
        assert DEVICE_COOKIE not in {cookie.key for cookie in client.cookie_jar}
    assert await _devices(session) == []
    link = (await session.exec(select(VolunteerSignInLink).execution_options(populate_existing=True))).one()
    assert link.used_at is None


async def test_entering_binds_a_device_cookie_and_lands_home(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as client:
        entered = await client.post(path, allow_redirects=False)
        assert entered.status == 303 and entered.headers["Location"] == "/v/"
        cookie = entered.cookies[DEVICE_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/v/"
        assert not cookie["secure"]  # plain http here
        assert int(cookie["max-age"]) >= 365 * 24 * 3600
        home = await client.get("/v/", allow_redirects=False)
        assert home.status == 200 and "我的探访" in await home.text()
    [device] = await _devices(session)
    assert device.volunteer_id == volunteer.id and device.revoked_at is None
    assert cookie.value not in device.token_hash


async def test_a_used_link_is_refused_like_an_unknown_one_and_changes_nothing(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as phone:
        assert (await phone.post(path, allow_redirects=False)).status == 303
    async with client_of(app_server) as stranger:
        reused_get = await stranger.get(path)
        reused_post = await stranger.post(path, allow_redirects=False)
        unknown = await stranger.post("/v/in/" + "A" * 43, allow_redirects=False)
        bodies = [await response.text() for response in (reused_get, reused_post, unknown)]
        assert [r.status for r in (reused_get, reused_post, unknown)] == [404, 404, 404]
        assert all(REFUSED in body and "社区工作人员" in body for body in bodies)
        assert bodies[1] == bodies[2]  # nothing tells a used link from one that never was
        assert DEVICE_COOKIE not in {cookie.key for cookie in stranger.cookie_jar}
    assert len(await _devices(session)) == 1  # only the first use's


async def test_an_expired_link_is_refused(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    clock.advance(timedelta(hours=72))
    async with client_of(app_server) as client:
        assert REFUSED in await (await client.get(path)).text()
        entered = await client.post(path, allow_redirects=False)
        assert entered.status == 404 and REFUSED in await entered.text()
    assert await _devices(session) == []


async def test_a_post_from_another_site_uses_no_link(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as client:
        forged = await client.post(path, headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False)
        assert forged.status == 403
        other_origin = await client.post(path, headers={"Origin": "https://evil.example"}, allow_redirects=False)
        assert other_origin.status == 403
        assert (await client.post(path, allow_redirects=False)).status == 303  # still unused
    assert len(await _devices(session)) == 1


async def test_a_stranger_without_a_cookie_is_sent_to_the_signed_out_page(app_server: TestServer) -> None:
    async with client_of(app_server) as client:
        home = await client.get("/v/", allow_redirects=False)
        assert home.status == 302 and home.headers["Location"] == "/v/signed-out"
        client.cookie_jar.update_cookies({DEVICE_COOKIE: "forged-" + "x" * 40})
        forged = await client.get("/v/", allow_redirects=False)
        assert forged.status == 302 and forged.headers["Location"] == "/v/signed-out"
        page = await (await client.get("/v/signed-out")).text()
        assert "您尚未登录" in page and "社区工作人员" in page


async def test_a_revoked_device_is_signed_out_on_its_next_request(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    assert volunteer.id is not None
    async with await sign_in_volunteer(app_server, session, clock, volunteer) as phone:
        assert (await phone.get("/v/", allow_redirects=False)).status == 200
        await revoke_devices(session, clock=clock, volunteer_id=volunteer.id, by="coordinator:1")
        await session.commit()
        home = await phone.get("/v/", allow_redirects=False)
        assert home.status == 302 and home.headers["Location"] == "/v/signed-out"


async def test_a_deactivated_volunteer_is_signed_out(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    async with await sign_in_volunteer(app_server, session, clock, volunteer) as phone:
        volunteer.active = False
        session.add(volunteer)
        await session.commit()
        assert (await phone.get("/v/", allow_redirects=False)).status == 302


async def test_signing_out_revokes_this_device_only(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    async with (
        await sign_in_volunteer(app_server, session, clock, volunteer) as phone,
        await sign_in_volunteer(app_server, session, clock, volunteer) as tablet,
    ):
        refused = await phone.post("/v/out", data={"csrf": "wrong"}, allow_redirects=False)
        assert refused.status == 403
        out = await phone.post("/v/out", data={"csrf": await app_csrf(phone)}, allow_redirects=False)
        assert out.status == 303 and out.headers["Location"] == "/v/signed-out?done=1"
        assert (await phone.get("/v/", allow_redirects=False)).status == 302
        assert (await tablet.get("/v/", allow_redirects=False)).status == 200
    revoked = [device for device in await _devices(session) if device.revoked_at is not None]
    assert len(revoked) == 1 and revoked[0].revoked_by == f"volunteer:{volunteer.id}"


async def test_a_new_link_on_a_signed_in_browser_replaces_its_device(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    async with await sign_in_volunteer(app_server, session, clock, volunteer) as phone:
        path = await link_for(session, clock, volunteer)
        assert (await phone.post(path, allow_redirects=False)).status == 303
        assert (await phone.get("/v/", allow_redirects=False)).status == 200
    devices = await _devices(session)
    assert [device.revoked_at is None for device in devices] == [False, True]


async def test_wrong_links_from_one_address_are_throttled(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as client:
        statuses = [(await client.get(f"/v/in/{'B' * 40}{n:03d}")).status for n in range(12)]
        assert statuses[:9] == [404] * 9 and set(statuses[9:]) == {429}  # the tenth wrong one locks
        locked = await client.post(path, allow_redirects=False)
        assert locked.status == 429 and "以后再试" in await locked.text()
        clock.advance(timedelta(minutes=15))
        assert (await client.post(path, allow_redirects=False)).status == 303
    assert len(await _devices(session)) == 1


async def test_behind_https_the_device_cookie_is_secure(
    serve_app: ServeApp, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    server = await serve_app(public_url="https://care.example.cn", secret_key="s" * 32)
    path = await link_for(session, clock, volunteer)
    async with client_of(server) as client:
        entered = await client.post(path, allow_redirects=False)
        assert entered.status == 303 and entered.cookies[DEVICE_COOKIE]["secure"]


async def test_pages_speak_english_when_the_service_does(
    serve_app: ServeApp, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    server = await serve_app(language="en")
    async with client_of(server) as client:
        page = await (await client.get(await link_for(session, clock, volunteer))).text()
        assert "Enter" in page and 'lang="en"' in page


async def test_a_signed_in_phone_opening_its_used_link_again_just_goes_home(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    path = await link_for(session, clock, volunteer)
    async with client_of(app_server) as phone:
        assert (await phone.post(path, allow_redirects=False)).status == 303
        second_tap = await phone.post(path, allow_redirects=False)
        assert second_tap.status == 303 and second_tap.headers["Location"] == "/v/"
        back_button = await phone.get(path, allow_redirects=False)
        assert back_button.status == 303 and back_button.headers["Location"] == "/v/"
    assert len(await _devices(session)) == 1
