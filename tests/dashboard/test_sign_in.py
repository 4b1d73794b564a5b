"""Signing in and out of the dashboard: throttled with backoff (the same for unknown names), protected against
cross-site posts, sessions that end on sign-out and on a new password, and headers that keep pages out of caches
and frames."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.coordinators import LONGEST_WAIT, wait_after
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.throttle import client_address
from carevisit.storage.models import Area, Coordinator
from tests.dashboard.conftest import PASSWORD, csrf_of, login_token, post_login, sign_in

WRONG = "not the password"


def _client(server: TestServer) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (14, 512), (15, 900), (60, 900)],
)
def test_the_wait_doubles_after_five_failures_up_to_fifteen_minutes(failures: int, wait: int) -> None:
    assert wait_after(failures) == timedelta(seconds=wait)
    assert wait_after(failures) <= LONGEST_WAIT


async def _fail(client: aiohttp.ClientSession, username: str, times: int) -> list[int]:
    return [(await post_login(client, username, WRONG)).status for _ in range(times)]


async def test_five_wrong_passwords_lock_the_account_and_say_until_when(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    wang = await coordinator_factory(areas["street"], "wang")
    async with _client(server) as client:
        assert await _fail(client, "wang", 4) == [401] * 4
        locked = await post_login(client, "wang", WRONG)
        until = (clock.now() + timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S")
        assert locked.status == 429
        assert f"登录失败次数过多，请于 {until} 之后再试。" in await locked.text()
        # While locked even the right password is refused, without being checked.
        assert (await post_login(client, "wang", PASSWORD)).status == 429

        clock.advance(timedelta(seconds=1))
        assert (await post_login(client, "wang", WRONG)).status == 429  # sixth failure: 2 s now
        await session.refresh(wang)
        assert (wang.failed_logins, wang.locked_until) == (6, clock.now() + timedelta(seconds=2))

        clock.advance(timedelta(seconds=2))
        assert (await post_login(client, "wang", PASSWORD)).status == 303
    await session.refresh(wang)
    assert (wang.failed_logins, wang.locked_until, wang.last_sign_in_at) == (0, None, clock.now())


async def test_an_unknown_name_gets_the_same_answers_as_a_real_account(
    server: TestServer, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with _client(server) as client:
        real = [(r.status, await r.text()) for r in [await post_login(client, "wang", WRONG) for _ in range(6)]]
        unknown = [(r.status, await r.text()) for r in [await post_login(client, "nobody", WRONG) for _ in range(6)]]
    assert [status for status, _ in real] == [401] * 4 + [429] * 2
    assert unknown == real  # the same statuses and the same pages, word for word
    assert "登录失败次数过多" in real[4][1]


async def test_many_failures_from_one_address_close_sign_in_from_it(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with _client(server) as client:
        statuses = [(await post_login(client, f"guess{n}", WRONG)).status for n in range(20)]
        assert statuses == [401] * 19 + [429]  # each name is new: only the address counts
        assert (await post_login(client, "wang", PASSWORD)).status == 429


async def test_sign_in_needs_the_login_pages_token_and_a_same_site_post(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with _client(server) as client:
        no_token = await client.post("/login", data={"username": "wang", "password": PASSWORD}, allow_redirects=False)
        assert no_token.status == 403 and "登录页已过期" in await no_token.text()
        token = await login_token(client)
        forged = {"username": "wang", "password": PASSWORD, "csrf": token[:-2] + "xx"}
        assert (await client.post("/login", data=forged, allow_redirects=False)).status == 403
        good = {"username": "wang", "password": PASSWORD, "csrf": token}
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
            response = await client.post("/login", data=good, headers=headers, allow_redirects=False)
            assert response.status == 403, headers
        same_site = {"Origin": str(server.make_url("")).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
        assert (await client.post("/login", data=good, headers=same_site, allow_redirects=False)).status == 303
        assert "carevisit_session" in {cookie.key for cookie in client.cookie_jar}


async def test_a_cross_site_action_is_refused_even_with_the_token(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with await sign_in(server, "wang") as client:
        csrf = await csrf_of(client, "/drill")
        response = await client.post(
            "/planning/reassign", data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
        )
        assert response.status == 403


async def test_signing_out_ends_every_session_of_the_account(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with await sign_in(server, "wang") as phone, await sign_in(server, "wang") as desk:
        assert (await phone.post("/logout", data={}, allow_redirects=False)).status == 403  # no token: not from us
        assert (await desk.get("/", allow_redirects=False)).status == 200
        csrf = await csrf_of(phone, "/drill")
        response = await phone.post("/logout", data={"csrf": csrf}, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login")
        for client in (phone, desk):
            response = await client.get("/", allow_redirects=False)
            assert (response.status, response.headers["Location"]) == (303, "/login")


async def test_a_new_password_ends_old_sessions(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    from carevisit.storage.enums import CoordinatorRole

    wang = await coordinator_factory(areas["community"], "wang")
    await coordinator_factory(areas["street"], "boss", role=CoordinatorRole.ADMIN)
    async with await sign_in(server, "wang") as old, await sign_in(server, "boss") as admin:
        csrf = await csrf_of(admin, "/admin/coordinators")
        response = await admin.post(
            f"/admin/coordinators/{wang.id}/password",
            data={"csrf": csrf, "password": "brand new secret", "password_again": "brand new secret"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert (await old.get("/", allow_redirects=False)).headers["Location"] == "/login"
    async with _client(server) as client:
        assert (await post_login(client, "wang", PASSWORD)).status == 401
        assert (await post_login(client, "wang", "brand new secret")).status == 303


async def test_a_disabled_account_loses_its_session_at_once(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    wang = await coordinator_factory(areas["street"], "wang")
    async with await sign_in(server, "wang") as client:
        coordinator = await session.get(Coordinator, wang.id)
        assert coordinator is not None
        coordinator.active = False
        await session.commit()
        assert (await client.get("/", allow_redirects=False)).status == 303


async def test_every_response_is_kept_out_of_caches_and_frames_and_names_no_versions(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    app = web.Application()

    async def webhook(_request: web.Request) -> web.Response:  # as the Twilio and Telegram routes share the app
        return web.Response(text="<Response/>", content_type="text/xml")

    app.router.add_post("/webhooks/twilio/status", webhook)
    add_dashboard(
        app, sessions=session_factory, clock=clock, zone=ZoneInfo("Asia/Shanghai"), language="zh_CN",
        secret=b"test-secret", secure_cookies=False,
    )  # fmt: skip
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        await coordinator_factory(areas["street"], "wang")
        async with await sign_in(server, "wang") as client:
            responses = [
                await client.get("/"),
                await client.get("/login"),
                await client.get("/no-such-page"),
                await client.post("/webhooks/twilio/status"),
            ]
            for response in responses:
                headers = response.headers
                assert headers["Cache-Control"] == "no-store", response.url
                assert headers["X-Frame-Options"] == "DENY"
                assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
                assert "default-src 'self'" in headers["Content-Security-Policy"]
                assert headers["X-Content-Type-Options"] == "nosniff"
                assert headers["Referrer-Policy"] == "same-origin"
                assert headers["Server"] == "carevisit"
            style = await client.get("/static/style.css")
            assert style.status == 200 and style.headers.get("Cache-Control") != "no-store"
            assert style.headers["Server"] == "carevisit"
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("peer", "forwarded", "counted"),
    [
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),  # the proxy on this host
        ("10.0.0.2", "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the client's own claim comes first: not trusted
        ("120.24.0.8", "127.0.0.1", "120.24.0.8"),  # a public peer is the client, whatever it says
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_failures_count_against_the_client_behind_the_proxy(peer: str, forwarded: str | None, counted: str) -> None:
    assert client_address(peer, forwarded) == counted


async def test_a_proxy_that_rewrites_host_does_not_refuse_same_site_posts(
    server: TestServer, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "wang")
    async with _client(server) as client:
        data = {"username": "wang", "password": PASSWORD, "csrf": await login_token(client)}
        public = {"Origin": "https://care.example.org"}
        refused = await client.post("/login", data=data, headers=public, allow_redirects=False)
        assert refused.status == 403  # an origin that is not the host asked for
        for headers in (public | {"Sec-Fetch-Site": "same-origin"}, public | {"X-Forwarded-Host": "care.example.org"}):
            data["csrf"] = await login_token(client)  # a sign-in uses up the page's token
            response = await client.post("/login", data=data, headers=headers, allow_redirects=False)
            assert response.status == 303, headers


async def test_signing_out_without_a_live_session_just_shows_the_sign_in_page(server: TestServer) -> None:
    async with _client(server) as client:
        response = await client.post("/logout", data={}, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (303, "/login")
