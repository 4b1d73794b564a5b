"""Signing in silently from WeCom: the app sends the browser to WeCom's authorize page, and the code WeCom returns
(our WeCom client asks a fake WeCom server over HTTP whose it is) signs in the volunteer linked to that userid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.models import Area, AuditEntry, Volunteer, VolunteerDevice
from carevisit.volunteer_app.guard import DEVICE_COOKIE
from carevisit.volunteer_app.wecom_sign_in import STATE_COOKIE
from tests.factories import make_volunteer
from tests.volunteer_app.conftest import ServeApp, client_of, sign_in_volunteer
from tests.wecom.fake_wecom import FakeWeCom

OAUTH = "https://open.weixin.example"
PUBLIC_URL = "http://care.example.cn"  # http: the test's client keeps the cookies a plain-http server sets


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom(clock)
    for userid in ("zhangwei", "lina"):
        fake.add_member(userid)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def server(serve_app: ServeApp, wecom: FakeWeCom) -> TestServer:
    return await serve_app(
        wecom_corp_id=wecom.corp_id,
        wecom_agent_id=wecom.agent_id,
        wecom_secret=wecom.secret,
        wecom_token=wecom.token,
        wecom_aes_key=wecom.aes_key,
        wecom_api_base=wecom.api_base,
        wecom_oauth_base=OAUTH,
        public_url=PUBLIC_URL,
        secret_key="volunteer-app-tests-secret-key-long",
    )


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]], wecom_userid="zhangwei")
    await session.commit()
    return made


async def _authorize(client: aiohttp.ClientSession, **query: str) -> dict[str, str]:
    """Open /v/wecom as WeCom's workbench does; the query of the authorize page it sends the browser to."""
    answer = await client.get("/v/wecom", params=query, allow_redirects=False)
    assert answer.status == 302
    location = answer.headers["Location"]
    assert location.startswith(f"{OAUTH}/connect/oauth2/authorize?") and location.endswith("#wechat_redirect")
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    return query


async def _devices(session: AsyncSession) -> list[VolunteerDevice]:
    return list((await session.exec(select(VolunteerDevice).execution_options(populate_existing=True))).all())


async def test_a_linked_member_is_signed_in_silently(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as phone:
        query = await _authorize(phone)
        assert query["appid"] == wecom.corp_id and query["agentid"] == str(wecom.agent_id)
        assert query["scope"] == "snsapi_base" and query["response_type"] == "code"
        assert query["redirect_uri"] == f"{PUBLIC_URL}/v/wecom/back"
        assert query["state"].isalnum() and len(query["state"]) <= 128  # what WeCom allows in `state`

        back = await phone.get(
            "/v/wecom/back",
            params={"code": wecom.oauth_code("zhangwei"), "state": query["state"]},
            allow_redirects=False,
        )
        assert back.status == 303 and back.headers["Location"] == "/v/"
        assert back.cookies[DEVICE_COOKIE]["httponly"] and back.cookies[DEVICE_COOKIE]["path"] == "/v/"
        assert (await phone.get("/v/", allow_redirects=False)).status == 200
        again = await phone.get("/v/wecom", allow_redirects=False)  # signed in: no second trip to WeCom
        assert again.status == 302 and again.headers["Location"] == "/v/"
    [device] = await _devices(session)
    assert device.volunteer_id == volunteer.id
    entry = (await session.exec(select(AuditEntry).where(AuditEntry.action == "app.sign_in"))).one()
    assert entry.details and entry.details["via"] == "wecom"


async def test_a_member_not_linked_to_a_volunteer_is_told_to_ask(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as phone:
        query = await _authorize(phone)
        back = await phone.get("/v/wecom/back", params={"code": wecom.oauth_code("lina"), "state": query["state"]})
        assert back.status == 403
        page = await back.text()
        assert "还没有和志愿者身份关联" in page and "社区工作人员" in page
        assert (await phone.get("/v/", allow_redirects=False)).status == 302
    assert await _devices(session) == []


async def test_a_return_this_browser_did_not_start_is_refused(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as attacker:
        state = (await _authorize(attacker))["state"]
    code = wecom.oauth_code("zhangwei")
    async with client_of(server) as victim:  # login CSRF: the attacker's state and code in the victim's browser
        back = await victim.get("/v/wecom/back", params={"code": code, "state": state}, allow_redirects=False)
        assert back.status == 403
        forged = await victim.get("/v/wecom/back", params={"code": code, "state": "A" * 74}, allow_redirects=False)
        assert forged.status == 403
    assert code in wecom.oauth_codes  # WeCom was not even asked
    assert await _devices(session) == []


async def test_an_old_state_is_refused(
    server: TestServer, wecom: FakeWeCom, clock: FakeClock, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as phone:
        state = (await _authorize(phone))["state"]
        clock.advance(timedelta(minutes=10))
        back = await phone.get("/v/wecom/back", params={"code": wecom.oauth_code("zhangwei"), "state": state})
        assert back.status == 403 and "企业微信登录没有成功" in await back.text()
    assert await _devices(session) == []


async def test_a_code_wecom_refuses_signs_nobody_in(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    code = wecom.oauth_code("zhangwei")
    async with client_of(server) as first, client_of(server) as second:
        state = (await _authorize(first))["state"]
        ok = await first.get("/v/wecom/back", params={"code": code, "state": state}, allow_redirects=False)
        assert ok.status == 303
        state = (await _authorize(second))["state"]
        used = await second.get("/v/wecom/back", params={"code": code, "state": state}, allow_redirects=False)
        assert used.status == 502 and "企业微信登录没有成功" in await used.text()
    assert len(await _devices(session)) == 1


async def test_a_deactivated_volunteer_is_not_signed_in_by_wecom(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    volunteer.active = False
    session.add(volunteer)
    await session.commit()
    async with client_of(server) as phone:
        state = (await _authorize(phone))["state"]
        back = await phone.get("/v/wecom/back", params={"code": wecom.oauth_code("zhangwei"), "state": state})
        assert back.status == 403
    assert await _devices(session) == []


async def test_without_wecom_settings_the_wecom_entry_goes_home_or_says_how_to_sign_in(
    app_server: TestServer, session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    async with client_of(app_server) as phone:
        start = await phone.get("/v/wecom")
        assert start.url.path == "/v/signed-out" and "您尚未登录" in await start.text()
    async with await sign_in_volunteer(app_server, session, clock, volunteer) as phone:
        back = await phone.get("/v/wecom/back", params={"code": "x", "state": "y"})
        assert back.url.path == "/v/" and "我的探访" in await back.text()


# --- coming back to the page a WeCom message linked to (/v/wecom?next=…) ---


async def _back(phone: aiohttp.ClientSession, wecom: FakeWeCom, state: str) -> aiohttp.ClientResponse:
    return await phone.get(
        "/v/wecom/back", params={"code": wecom.oauth_code("zhangwei"), "state": state}, allow_redirects=False
    )


async def test_signing_in_comes_back_to_the_page_the_message_linked_to(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as phone:
        state = (await _authorize(phone, next="/v/incidents/12"))["state"]
        back = await _back(phone, wecom, state)
        assert back.status == 303 and back.headers["Location"] == "/v/incidents/12"
        again = await phone.get("/v/wecom", params={"next": "/v/incidents/12"}, allow_redirects=False)
        assert again.status == 302 and again.headers["Location"] == "/v/incidents/12"  # signed in: straight there
    assert len(await _devices(session)) == 1


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example/v/", "//evil.example/v/", "/v//evil.example", "/v/../incidents", "/incidents/12", "/v/a:b"],
)
async def test_a_next_that_is_not_a_page_of_the_app_goes_home(
    server: TestServer, wecom: FakeWeCom, volunteer: Volunteer, elsewhere: str
) -> None:
    async with client_of(server) as phone:
        state = (await _authorize(phone, next=elsewhere))["state"]
        back = await _back(phone, wecom, state)
        assert back.status == 303 and back.headers["Location"] == "/v/"


async def test_a_next_changed_on_the_way_back_spoils_the_state(
    server: TestServer, wecom: FakeWeCom, session: AsyncSession, volunteer: Volunteer
) -> None:
    async with client_of(server) as phone:
        state = (await _authorize(phone, next="/v/incidents/12"))["state"]
        [kept] = [c for c in phone.cookie_jar if c.key == STATE_COOKIE]
        assert kept.value.endswith("/v/incidents/12")
        changed = SimpleCookie()
        changed[STATE_COOKIE] = kept.value.replace("/v/incidents/12", "/v/other")
        changed[STATE_COOKIE]["path"] = kept["path"]
        phone.cookie_jar.update_cookies(changed, server.make_url("/v/wecom"))
        back = await _back(phone, wecom, state)
        assert back.status == 403
    assert await _devices(session) == []
