"""WeCom story: the service configured for WeCom only through settings (CAREVISIT_WECOM_*, the API base pointing at
the fake qyapi), run as `carevisit run` builds it. The coordinator links their WeCom member by sending the app the
invitation code; a volunteer raises an emergency; the coordinator's card arrives at WeCom with its link to the page;
the coordinator taps Acknowledge — an encrypted callback to the running service — and the incident is acknowledged
over WeCom, the card greyed out; WeCom's replay of that callback changes nothing. A reporter reached on WeCom is told
each step with a link that opens the app's status page of the emergency, signed in without a password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.invitations import create_invitation
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import AuditEntry, Coordinator, Volunteer
from carevisit.wecom.callback import CALLBACK_PATH
from tests.bot.stories import sos
from tests.e2e.conftest import VOLUNTEER_TG, People, Stack, eventually
from tests.wecom.fake_wecom import Delivery, FakeWeCom

USERID = "zhaoli"
VOLUNTEER_ID = "zhangwei"


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom(clock)
    fake.add_member(USERID, name="赵主任")
    fake.add_member(VOLUNTEER_ID, name="张伟")
    await fake.start()
    yield fake
    await fake.close()


def wecom_settings(fake: FakeWeCom) -> dict[str, Any]:
    """What the operator sets, from the app's page in the WeCom admin console."""
    return {
        "wecom_corp_id": fake.corp_id,
        "wecom_agent_id": fake.agent_id,
        "wecom_secret": fake.secret,
        "wecom_token": fake.token,
        "wecom_aes_key": fake.aes_key,
        "wecom_api_base": fake.api_base,
    }


def text_message(fake: FakeWeCom, userid: str, content: str, msg_id: int) -> str:
    created = int(fake.clock.now().timestamp())
    return (
        f"<xml><ToUserName><![CDATA[{fake.corp_id}]]></ToUserName><FromUserName><![CDATA[{userid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]>"
        f"</Content><MsgId>{msg_id}</MsgId><AgentID>{fake.agent_id}</AgentID></xml>"
    )


def cards(fake: FakeWeCom) -> list[Delivery]:
    return [d for d in fake.delivered_to(USERID) if d.msgtype == "template_card"]


async def test_a_coordinator_acknowledges_an_emergency_by_tapping_the_wecom_card(
    stack: Stack, people: People, session: AsyncSession, wecom: FakeWeCom
) -> None:
    await stack.plan_month()
    await stack.start(**wecom_settings(wecom))
    callback = stack.base_url + CALLBACK_PATH
    assert await wecom.verify_url(callback)  # the admin saves the callback URL

    # The coordinator sends the app the invitation code `carevisit wecom invite --coordinator` printed.
    token = await create_invitation(session, clock=stack.clock, created_by="cli", coordinator_id=people.coordinator.id)
    await session.commit()
    query, body = wecom.callback_request(text_message(wecom, USERID, token, 1001))
    assert await wecom.post_callback(callback, query, body) == (200, "success")
    coordinator = await session.get(Coordinator, people.coordinator.id, populate_existing=True)
    assert coordinator is not None and coordinator.wecom_userid == USERID
    await eventually(
        lambda: any("绑定成功" in d.message.get("content", "") for d in wecom.delivered_to(USERID)), "the reply"
    )

    volunteer = await stack.link(session, people.volunteer)
    await stack.tick(seconds=3)  # the sender keeps 2 s between two messages to one member
    await sos(volunteer)

    [card] = await eventually(lambda: cards(wecom), "the coordinator's card at WeCom")
    # The reporter's "whom this step paged" first: sent after the tick below, it would hold the next message to
    # the same chat for a second of the test's clock that never comes.
    await eventually(lambda: any("已通知" in m for m in stack.tg.texts(VOLUNTEER_TG)), "the reporter told of step 1")
    incident = await stack.incident()
    assert incident.status == IncidentStatus.OPEN
    assert "王秀英" in card.message["main_title"]["title"] + card.message["main_title"].get("desc", "")
    assert card.message["card_action"]["url"].startswith(stack.base_url)
    ack = next(b["key"] for b in card.message["button_list"] if b["key"] == f"i:a:{incident.id}")

    tapped_at = int(stack.clock.now().timestamp())
    assert await wecom.tap(callback, USERID, card.message["task_id"], ack) == (200, "success")

    incident = await stack.incident()
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "wecom"
    assert incident.acknowledged_by == f"coordinator:{people.coordinator.id}"
    [(*_, code)] = wecom.taps
    await eventually(lambda: wecom.card(code).replaced_with == "已确认", "the card greyed out")
    await stack.tick(seconds=2)  # the chat sender keeps a second between two messages to one chat
    told = await eventually(
        lambda: next((m for m in stack.tg.texts(VOLUNTEER_TG) if "企业微信" in m), None), "telling the volunteer"
    )
    assert "赵主任" in told  # who acknowledged, and that it was on WeCom
    dashboard = await stack.sign_in()
    page = await (await dashboard.get(f"/incidents/{incident.id}")).text()
    await dashboard.close()
    assert "企业微信" in page and "wecom" not in page.lower()

    # WeCom sends the same callback again (it thought the answer late): answered, nothing changes.
    replay_query, replay_body = wecom.callback_request(
        wecom.template_card_event_xml(USERID, card.message["task_id"], ack, response_code=code, create_time=tapped_at)
    )
    assert await wecom.post_callback(callback, replay_query, replay_body) == (200, "success")
    again = await stack.incident()
    assert (again.status, again.acknowledged_at) == (incident.status, incident.acknowledged_at)
    acks = await session.exec(select(AuditEntry.id).where(col(AuditEntry.action) == "incident.acknowledge"))
    assert len(acks.all()) == 1


def texts_to(fake: FakeWeCom, userid: str) -> list[str]:
    return [d.message["content"] for d in fake.delivered_to(userid) if d.msgtype == "text"]


async def test_a_reporter_on_wecom_follows_the_emergency_in_the_app_signed_in(
    stack: Stack, people: People, session: AsyncSession, wecom: FakeWeCom
) -> None:
    await stack.plan_month()
    await stack.start(**wecom_settings(wecom))
    volunteer = await stack.link(session, people.volunteer)  # reports through the bot (tests.bot.stories.sos)
    for model, row_id, userid in (
        (Volunteer, people.volunteer.id, VOLUNTEER_ID),
        (Coordinator, people.coordinator.id, USERID),
    ):
        person = await session.get(model, row_id, populate_existing=True)
        assert person is not None
        person.wecom_userid = userid  # linked on WeCom too (tests/wecom/test_linking.py): messages go there
        session.add(person)
    await session.commit()

    await sos(volunteer)
    incident = await stack.incident()
    page = f"/v/incidents/{incident.id}"
    link = f"{stack.base_url}/v/wecom?next={page}"
    [paged] = await eventually(lambda: texts_to(wecom, VOLUNTEER_ID), "the reporter told whom the step paged")
    assert paged.endswith(f"查看：{link}") and "已通知" in paged

    [card] = await eventually(lambda: cards(wecom), "the coordinator's card at WeCom")
    ack = f"i:a:{incident.id}"
    assert await wecom.tap(stack.base_url + CALLBACK_PATH, USERID, card.message["task_id"], ack) == (200, "success")
    await stack.tick(seconds=3)  # the sender keeps 2 s between two messages to one member
    told = await eventually(
        lambda: [t for t in texts_to(wecom, VOLUNTEER_ID) if "企业微信" in t], "the reporter told it was acknowledged"
    )
    assert told[0].endswith(f"查看：{link}")

    # The volunteer taps the link in WeCom: the app asks WeCom who it is, and opens the emergency's page.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as phone:
        async with phone.get(link, allow_redirects=False) as start:
            assert start.status == 302
            authorize = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
        back = authorize["redirect_uri"]  # WeCom sends the browser back there with a code for the member
        params = {"code": wecom.oauth_code(VOLUNTEER_ID), "state": authorize["state"]}
        async with phone.get(back, params=params, allow_redirects=False) as signed_in:
            assert signed_in.status == 303 and signed_in.headers["Location"] == page
        async with phone.get(f"{stack.base_url}/v/", allow_redirects=False) as home:
            assert home.status == 200  # signed in by the device cookie, no password
