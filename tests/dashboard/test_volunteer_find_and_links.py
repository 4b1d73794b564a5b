"""The volunteers page as the user trial found it on a phone: finding one volunteer among dozens by name or roster
id (a GET search that needs no JavaScript), a compact card, and a freshly issued link shown once after a redirect
(POST-redirect-GET, the link never in the address), named for the person, with a warning when no phone can open it."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard import shown_once
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.link_reach import LAN, LOOPBACK, phone_reach
from carevisit.dashboard.volunteer_views import PUBLIC_URL
from carevisit.storage.models import Area, ChatInvitation, Volunteer, VolunteerSignInLink
from tests.dashboard.conftest import PHONE, csrf_of, needs_chromium, sign_in, sign_in_page
from tests.factories import make_volunteer


def _listed(page: str) -> list[str]:
    return re.findall(r'<tr id="volunteer-(\d+)"', page)


async def _links(session: AsyncSession) -> list[VolunteerSignInLink]:
    fresh = select(VolunteerSignInLink).execution_options(populate_existing=True)
    return list((await session.exec(fresh)).all())


@pytest.fixture
async def three(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> list[Volunteer]:
    made = [
        await make_volunteer(session, clock, communities=[areas["community"]], name="李秀英", external_id="V0001"),
        await make_volunteer(session, clock, communities=[areas["community"]], name="王建国", external_id="V0002"),
        await make_volunteer(session, clock, communities=[areas["community"]], name="李建华", external_id="V0120"),
    ]
    await session.commit()
    return made


async def test_the_search_finds_volunteers_by_name_or_roster_id(
    server: TestServer, three: list[Volunteer], areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    li, wang, li_jianhua = three
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        everyone = await (await street.get("/volunteers")).text()
        by_surname = await (await street.get("/volunteers", params={"q": " 李 "})).text()
        by_id = await (await street.get("/volunteers", params={"q": "v0002"})).text()
        nobody = await (await street.get("/volunteers", params={"q": "<b>赵</b>"})).text()
    assert sorted(_listed(everyone)) == sorted(str(v.id) for v in three)
    assert _listed(by_surname) == [str(li.id), str(li_jianhua.id)] and "找到 2 位志愿者（共 3 位）" in by_surname
    assert 'name="q" value="李"' in by_surname  # the box keeps what was searched
    assert _listed(by_id) == [str(wang.id)]
    assert _listed(nobody) == [] and "没有姓名或编号包含“&lt;b&gt;赵&lt;/b&gt;”的志愿者" in nobody
    assert "<b>赵</b>" not in nobody


async def test_an_action_returns_to_the_search_it_was_taken_from(
    server: TestServer, session: AsyncSession, three: list[Volunteer], areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    li = three[0]
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers?q=李秀英")
        answer = await street.post(
            f"/volunteers/{li.id}/deactivate", data={"csrf": csrf, "q": "李秀英"}, allow_redirects=False
        )
        assert answer.status == 303 and "q=%E6%9D%8E%E7%A7%80%E8%8B%B1" in answer.headers["Location"]
        page = await (await street.get(answer.headers["Location"])).text()
    assert _listed(page) == [str(li.id)] and f"已停用志愿者 {li.name}（{li.external_id}）" in page
    await session.refresh(li)
    assert not li.active


async def test_a_sign_in_code_is_shown_once_after_a_redirect_named_for_the_person(
    server: TestServer, session: AsyncSession, three: list[Volunteer], areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    li = three[0]
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{li.id}/app-link", data={"csrf": csrf}, allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"] == "/volunteers#app-link"
        shown = await (await street.get("/volunteers")).text()
        again = await (await street.get("/volunteers")).text()
    found = re.search(r'id="app-link-value">([^<]+)<', shown)
    assert found, shown
    token = html.unescape(found.group(1)).rsplit("/", 1)[1]
    assert token not in answer.headers["Location"]
    assert "<h2>李秀英 的志愿者应用登录码 <small" in shown and "编号 V0001" in shown
    assert 'id="app-link"' not in again and token not in again  # a reload shows the page without it
    [link] = await _links(session)
    assert link.volunteer_id == li.id  # one link issued, whatever the page did afterwards


async def test_an_invitation_rides_the_same_redirect(
    server: TestServer, session: AsyncSession, three: list[Volunteer], areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    wang = three[1]
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{wang.id}/invite", data={"csrf": csrf}, allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"] == "/volunteers#invitation"
        shown = await (await street.get("/volunteers")).text()
        again = await (await street.get("/volunteers")).text()
    assert "请把" not in again and 'id="invitation"' not in again
    assert "志愿者 王建国" in shown and re.search(r'id="invitation-value">/start [A-Za-z0-9_-]+<', shown)
    assert len((await session.exec(select(ChatInvitation))).all()) == 1


async def test_a_kept_link_is_not_shown_to_another_session_nor_when_forged(
    server: TestServer, session: AsyncSession, three: list[Volunteer], areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    li = three[0]
    await coordinator_factory(areas["street"], "street-lead")
    await coordinator_factory(areas["street"], "street-colleague")
    async with await sign_in(server, "street-lead") as street, await sign_in(server, "street-colleague") as other:
        csrf = await csrf_of(street, "/volunteers")
        answer = await street.post(f"/volunteers/{li.id}/app-link", data={"csrf": csrf}, allow_redirects=False)
        kept = answer.cookies[shown_once.COOKIE].value
        other.cookie_jar.update_cookies({shown_once.COOKIE: kept})
        theirs = await (await other.get("/volunteers")).text()
        street.cookie_jar.clear(lambda cookie: cookie.key == shown_once.COOKIE)
        street.cookie_jar.update_cookies({shown_once.COOKIE: "eyJrIjoiYXBwX2xpbmsifQ.forged"})
        forged = await (await street.get("/volunteers")).text()
    assert 'id="app-link"' not in theirs and 'id="app-link"' not in forged


@pytest.fixture
async def public_server(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[TestServer]:
    """The dashboard with CAREVISIT_PUBLIC_URL set, as `carevisit run` sets it (carevisit/web.py)."""
    app = web.Application()
    add_dashboard(
        app,
        sessions=session_factory,
        clock=clock,
        zone=ZoneInfo("Asia/Shanghai"),
        language="zh_CN",
        secret=b"test-secret",
        secure_cookies=False,
    )
    app[PUBLIC_URL] = request.param
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize(
    ("public_server", "warned"),
    [
        ("http://127.0.0.1:8099", "手机打不开这个链接：127.0.0.1 指的是运行本服务的这台电脑自己"),
        ("http://localhost:8080", "手机打不开这个链接：localhost"),
        ("http://192.168.1.20:8080", "只有连着同一局域网（同一 Wi-Fi）的手机能打开这个链接（192.168.1.20 是内网地址）"),
        ("https://care.example.cn", None),
    ],
    indirect=["public_server"],
)
async def test_a_code_for_an_address_phones_cannot_open_says_which_setting_to_change(
    public_server: TestServer, three: list[Volunteer], areas: dict[str, Area], coordinator_factory, warned: str | None
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(public_server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        page = await (await street.post(f"/volunteers/{three[0].id}/app-link", data={"csrf": csrf})).text()
    assert 'id="app-link-qr"' in page
    if warned is None:
        assert 'id="app-link-reach"' not in page
    else:
        assert warned in page and "CAREVISIT_PUBLIC_URL" in page


@pytest.mark.parametrize(
    ("url", "reach"),
    [
        ("http://127.0.0.1:8099/v/in/x", LOOPBACK),
        ("http://[::1]:8080/v/in/x", LOOPBACK),
        ("http://0.0.0.0:8080/v/in/x", LOOPBACK),
        ("http://app.localhost/v/in/x", LOOPBACK),
        ("http://10.0.0.5/v/in/x", LAN),
        ("http://172.16.3.4/v/in/x", LAN),
        ("http://carevisit:8080/v/in/x", LAN),
        ("http://care-pc.local/v/in/x", LAN),
        ("https://care.example.cn/v/in/x", None),
        ("https://120.24.10.9/v/in/x", None),
    ],
)
def test_which_addresses_a_phone_can_open(url: str, reach: str | None) -> None:
    assert phone_reach(url) == reach


# --- at 390 px in Chromium --------------------------------------------------------------------------------------------


@needs_chromium
async def test_on_a_phone_a_coordinator_finds_one_of_36_volunteers_and_gets_their_code_once(
    phone, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    crowd = [
        await make_volunteer(
            session,
            clock,
            communities=[areas["community"], areas["other_community"]],
            name=f"志愿者{n:02d}号",
            external_id=f"V{n:04d}",
            organisation_id=None,
        )
        for n in range(1, 37)
    ]
    await session.commit()
    wanted = crowd[20]  # V0021
    await coordinator_factory(areas["district"], "district-lead")
    await sign_in_page(phone, server, "district-lead")
    await phone.goto(str(server.make_url("/volunteers")))

    card = await phone.locator(f"#volunteer-{wanted.id}").bounding_box()
    assert card is not None and card["height"] < 300, card  # a compact card, not ten stacked rows and four buttons
    assert await phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    name = await phone.locator(f"#volunteer-{wanted.id} td.name").inner_text()
    assert name.split() == ["志愿者21号", "V0021"]  # the name first, the roster id after it

    await phone.get_by_label("查找志愿者").fill("v0021")
    async with phone.expect_navigation():
        await phone.get_by_role("button", name="查找").click()
    assert phone.url.endswith("/volunteers?q=v0021")
    assert await phone.locator("#volunteers tbody tr").count() == 1

    async with phone.expect_navigation():
        await phone.locator(f"#volunteer-{wanted.id}").get_by_role("button", name="志愿者应用登录码").click()
    assert phone.url.endswith("/volunteers?q=v0021#app-link")  # a GET: nothing to resubmit
    assert await phone.locator("#app-link h2").inner_text() == "志愿者21号 的志愿者应用登录码 编号 V0021"
    assert await phone.locator("#app-link-qr svg").is_visible()
    assert await phone.locator("#app-link-reach").is_visible()  # the test server is 127.0.0.1

    await phone.reload()
    assert await phone.locator("#app-link").count() == 0
    assert await phone.locator("#volunteers tbody tr").count() == 1  # still the search's result
    assert len(await _links(session)) == 1  # the reload issued nothing
