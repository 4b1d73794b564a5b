"""Linking people to WeCom members: an invitation code sent to the app as a text message (over the callback, the
answer a WeCom text through the chat outbox), and `carevisit wecom link` matching roster phones in WeCom's directory."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from carevisit.care.clock import FakeClock
from carevisit.care.invitations import create_invitation
from carevisit.cli import app as cli_app
from carevisit.storage.models import AuditEntry, ChatOutboxMessage, Coordinator, Volunteer
from carevisit.wecom.client import WeComClient
from carevisit.wecom.linking import link_by_phone
from tests.factories import make_coordinator, make_volunteer
from tests.wecom.conftest import PUBLIC_URL, SECRET_KEY, STRANGER, Served
from tests.wecom.fake_wecom import FakeWeCom

_msg_ids = itertools.count(7_000_000_000_000_000_001)


async def say(served: Served, userid: str, content: str) -> tuple[int, str]:
    """The member sends the app a text message: WeCom POSTs it, encrypted, to the callback."""
    created = int(served.rt.clock.now().timestamp())
    xml = (
        f"<xml><ToUserName><![CDATA[{served.fake.corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{next(_msg_ids)}</MsgId><AgentID>{served.fake.agent_id}</AgentID></xml>"
    )
    return await served.fake.post_callback(served.url, *served.fake.callback_request(xml))


async def replies(session: AsyncSession, userid: str) -> list[str]:
    rows = await session.exec(
        select(ChatOutboxMessage.text)
        .where(col(ChatOutboxMessage.channel) == "wecom", col(ChatOutboxMessage.recipient) == userid)
        .order_by(col(ChatOutboxMessage.id))
    )
    return list(rows.all())


async def new_volunteer_invitation(served: Served, session: AsyncSession, **person: object) -> tuple[Volunteer, str]:
    volunteer = await make_volunteer(
        session, served.rt.clock, communities=[served.world.areas["community"]], name="李娜", **person
    )
    token = await create_invitation(session, clock=served.rt.clock, created_by="cli", volunteer_id=volunteer.id)
    await session.commit()
    return volunteer, token


async def test_an_invitation_code_sent_to_the_app_links_the_member(served: Served, session: AsyncSession) -> None:
    volunteer, token = await new_volunteer_invitation(served, session)

    assert await say(served, STRANGER, f"  {token}\n") == (200, "success")

    await session.refresh(volunteer)
    assert volunteer.wecom_userid == STRANGER
    [reply] = await replies(session, STRANGER)
    assert "绑定成功" in reply and "李娜" in reply
    entry = (await session.exec(select(AuditEntry).where(col(AuditEntry.action) == "chat.link"))).one()
    assert entry.details == {"how": "invitation", "channel": "wecom"}


async def test_a_coordinator_links_by_invitation(served: Served, session: AsyncSession) -> None:
    coordinator = await make_coordinator(session, served.rt.clock, area=served.world.areas["street"], name="钱红")
    token = await create_invitation(session, clock=served.rt.clock, created_by="cli", coordinator_id=coordinator.id)
    await session.commit()

    await say(served, STRANGER, token)

    await session.refresh(coordinator)
    assert coordinator.wecom_userid == STRANGER
    [reply] = await replies(session, STRANGER)
    assert "协调员" in reply


async def test_a_used_code_links_nobody_else(served: Served, session: AsyncSession) -> None:
    volunteer, token = await new_volunteer_invitation(served, session)
    await say(served, STRANGER, token)
    served.fake.add_member("intruder")

    await say(served, "intruder", token)

    await session.refresh(volunteer)
    assert volunteer.wecom_userid == STRANGER
    [reply] = await replies(session, "intruder")
    assert "无效" in reply


async def test_an_expired_code_is_refused(served: Served, session: AsyncSession, clock: FakeClock) -> None:
    volunteer, token = await new_volunteer_invitation(served, session)
    clock.advance(timedelta(days=8))

    await say(served, STRANGER, token)

    await session.refresh(volunteer)
    assert volunteer.wecom_userid is None
    [reply] = await replies(session, STRANGER)
    assert "过期" in reply


async def test_a_person_linked_to_another_member_is_not_taken_over(served: Served, session: AsyncSession) -> None:
    volunteer, token = await new_volunteer_invitation(served, session, wecom_userid="lina")

    await say(served, STRANGER, token)

    await session.refresh(volunteer)
    assert volunteer.wecom_userid == "lina"
    [reply] = await replies(session, STRANGER)
    assert "另一个企业微信账号" in reply


async def test_a_repeated_message_is_answered_once(served: Served, session: AsyncSession) -> None:
    _volunteer, token = await new_volunteer_invitation(served, session)
    created = int(served.rt.clock.now().timestamp())
    xml = (
        f"<xml><ToUserName><![CDATA[{served.fake.corp_id}]]></ToUserName><FromUserName><![CDATA[{STRANGER}]]>"
        f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{token}]]></Content><MsgId>42</MsgId><AgentID>{served.fake.agent_id}</AgentID></xml>"
    )
    query, body = served.fake.callback_request(xml)
    for _ in range(3):  # WeCom retries a callback it thinks went unanswered
        assert await served.fake.post_callback(served.url, query, body) == (200, "success")

    assert len(await replies(session, STRANGER)) == 1


async def test_an_unlinked_member_is_told_how_to_link(served: Served, session: AsyncSession) -> None:
    await say(served, STRANGER, "你好")

    [reply] = await replies(session, STRANGER)
    assert "邀请码" in reply


# --- by roster phone ---


@pytest.fixture
async def directory(wecom: FakeWeCom, session: AsyncSession, clock: FakeClock, served: Served) -> Served:
    """Three roster people with phones, two of them WeCom members; one already linked."""
    community = served.world.areas["community"]
    wecom.add_member("liuyang", mobile="13722220001")
    wecom.add_member("heping", mobile="13822220002")
    await make_volunteer(session, clock, communities=[community], name="刘洋", phone="+8613722220001")
    await make_volunteer(session, clock, communities=[community], name="周敏", phone="+8613722220009")  # not a member
    await make_coordinator(session, clock, area=served.world.areas["street"], name="何平", phone="+8613822220002")
    await session.commit()
    return served


async def test_roster_phones_link_the_members_found(directory: Served, session: AsyncSession) -> None:
    async with directory.part.client() as client:
        counts = await link_by_phone(session, clock=directory.rt.clock, client=client)
        await session.commit()

    assert (counts.linked, counts.not_members) == (2, counts.looked_up - 2)
    assert counts.by_kind == {"volunteer": 1, "coordinator": 1}
    volunteer = (await session.exec(select(Volunteer).where(col(Volunteer.name) == "刘洋"))).one()
    coordinator = (await session.exec(select(Coordinator).where(col(Coordinator.name) == "何平"))).one()
    assert (volunteer.wecom_userid, coordinator.wecom_userid) == ("liuyang", "heping")


async def test_a_frequency_limit_stops_the_run_and_keeps_what_was_linked(
    directory: Served, session: AsyncSession, wecom: FakeWeCom, clock: FakeClock
) -> None:
    async with WeComClient(wecom.corp_id, wecom.agent_id, wecom.secret, wecom.api_base, clock) as client:
        await client.userid_by_mobile("13722220001")  # the token fetched first
        wecom.error_next(45009, path="/cgi-bin/user/getuserid")
        counts = await link_by_phone(session, clock=clock, client=client)
    assert counts.stopped_by is not None and counts.linked == 0


async def test_the_command_prints_counts_and_no_phone_numbers(directory: Served, db_url: str) -> None:
    fake = directory.fake
    env = {
        "CAREVISIT_DATABASE_URL": db_url,
        "CAREVISIT_WECOM_CORP_ID": fake.corp_id,
        "CAREVISIT_WECOM_AGENT_ID": str(fake.agent_id),
        "CAREVISIT_WECOM_SECRET": fake.secret,
        "CAREVISIT_WECOM_TOKEN": fake.token,
        "CAREVISIT_WECOM_AES_KEY": fake.aes_key,
        "CAREVISIT_WECOM_API_BASE": fake.api_base,
        "CAREVISIT_PUBLIC_URL": PUBLIC_URL,
        "CAREVISIT_SECRET_KEY": SECRET_KEY,
    }
    # In a thread: the command runs its own event loop, and the fake WeCom answers from this one.
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["wecom", "link"], env=env)

    assert result.exit_code == 0, result.output
    assert "linked 2 (1 volunteers, 1 coordinators)" in result.output
    assert "1372222" not in result.output and "liuyang" not in result.output


async def test_the_invite_command_prints_a_code_that_links_when_sent_to_the_app(
    served: Served, session: AsyncSession, db_url: str
) -> None:
    volunteer = await make_volunteer(session, served.rt.clock, communities=[served.world.areas["community"]])
    await session.commit()
    env = {"CAREVISIT_DATABASE_URL": db_url}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["wecom", "invite", volunteer.external_id], env=env)
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]

    await say(served, STRANGER, code)

    await session.refresh(volunteer)
    assert volunteer.wecom_userid == STRANGER


async def test_the_invite_command_refuses_an_unknown_roster_id(db_url: str, served: Served) -> None:
    env = {"CAREVISIT_DATABASE_URL": db_url}
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["wecom", "invite", "V99999"], env=env)
    assert result.exit_code == 1 and "No active volunteer" in result.output
