"""Every WeCom message opens a page: a link that is a path is made absolute against PUBLIC_URL, a page of the
volunteer app through its silent sign-in (/v/wecom?next=…); a message written without a link (the daily digest, an
assignment) opens the volunteer app for a volunteer and the dashboard for a coordinator. Through the WeCom part's
real sender, client and the fake WeCom."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.care.ports import WECOM, Recipient
from carevisit.wecom.links import absolute, home_path
from tests.wecom.conftest import COORDINATOR, PUBLIC_URL, STRANGER, VOLUNTEER, Served
from tests.wecom.test_part import eventually


@pytest.mark.parametrize(
    ("link", "url"),
    [
        ("https://carevisit.example.cn/a/xyz", "https://carevisit.example.cn/a/xyz"),  # a URL is kept
        ("/incidents/12", f"{PUBLIC_URL}/incidents/12"),  # the dashboard: coordinators sign in there
        ("/", f"{PUBLIC_URL}/"),
        ("/v/", f"{PUBLIC_URL}/v/wecom?next=/v/"),
        ("/v/incidents/12", f"{PUBLIC_URL}/v/wecom?next=/v/incidents/12"),
        (f"{PUBLIC_URL}/v/incidents/12", f"{PUBLIC_URL}/v/wecom?next=/v/incidents/12"),  # the app's page as a URL
        ("/v/wecom?next=/v/", f"{PUBLIC_URL}/v/wecom?next=/v/"),
        ("//evil.example/x", None),  # not a path of ours
        ("incidents/12", None),
    ],
)
def test_a_link_as_wecom_carries_it(link: str, url: str | None) -> None:
    assert absolute(link, PUBLIC_URL) == url
    assert absolute(link, PUBLIC_URL + "/") == url


def test_a_path_without_public_url_has_no_url() -> None:
    assert absolute("/v/", None) is None


async def test_each_member_has_the_home_of_who_they_are(served: Served, session: AsyncSession) -> None:
    assert await home_path(session, VOLUNTEER) == "/v/"
    assert await home_path(session, COORDINATOR) == "/"
    assert await home_path(session, STRANGER) is None
    served.world.volunteer.active = False
    session.add(served.world.volunteer)
    await session.commit()
    assert await home_path(session, VOLUNTEER) is None


async def contents(served: Served, userid: str) -> list[str]:
    return [d.message["content"] for d in served.fake.delivered_to(userid) if d.msgtype == "text"]


async def test_texts_without_a_link_open_the_app_or_the_dashboard(served: Served, clock: FakeClock) -> None:
    async with served.rt.sessions() as session:
        for key, userid, text in (
            ("digest:1", VOLUNTEER, "今天有 2 次探访"),
            ("problem:1", COORDINATOR, "新问题：王秀英 家中漏水"),
            ("help:1", STRANGER, "请发送邀请码"),
        ):
            await outbound.enqueue(session, clock=served.rt.clock, key=key, to=Recipient(WECOM, userid), text=text)
        await outbound.enqueue(
            session,
            clock=served.rt.clock,
            key="progress:1",
            to=Recipient(WECOM, VOLUNTEER),
            text="已通知 赵丽",
            link="/v/incidents/12",
        )
        await session.commit()

    await served.part.start()  # the only process: it leads, and sends
    try:
        await eventually(lambda: len(served.fake.delivered_to(VOLUNTEER)) == 1)
        await eventually(lambda: len(served.fake.delivered_to(COORDINATOR)) == 1)
        await eventually(lambda: len(served.fake.delivered_to(STRANGER)) == 1)
        clock.advance(timedelta(seconds=3))  # WECOM_LIMITS: one message a member every 2 s
        await eventually(lambda: len(served.fake.delivered_to(VOLUNTEER)) == 2)
    finally:
        await served.part.stop()

    assert await contents(served, VOLUNTEER) == [
        f"今天有 2 次探访\n查看：{PUBLIC_URL}/v/wecom?next=/v/",
        f"已通知 赵丽\n查看：{PUBLIC_URL}/v/wecom?next=/v/incidents/12",
    ]
    assert await contents(served, COORDINATOR) == [f"新问题：王秀英 家中漏水\n查看：{PUBLIC_URL}/"]
    assert await contents(served, STRANGER) == ["请发送邀请码"]  # linked to nobody: no page to open
