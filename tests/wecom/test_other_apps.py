"""One corp, several apps, one callback URL: an event whose AgentID is another app's is answered (so WeCom stops
retrying) and changes nothing — no acknowledgement, no reply, no wecom_events row, and nothing of it in the log."""

from __future__ import annotations

import logging

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import IncidentStatus
from tests.wecom.conftest import COORDINATOR, STRANGER, Served
from tests.wecom.test_linking import replies, say

OTHER_AGENT = 1000099


def for_another_app(served: Served, xml: str) -> str:
    ours = f"<AgentID>{served.fake.agent_id}</AgentID>"
    assert ours in xml
    return xml.replace(ours, f"<AgentID>{OTHER_AGENT}</AgentID>")


async def test_a_tap_on_another_apps_card_changes_nothing(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    event = for_another_app(served, served.fake.template_card_event_xml(COORDINATOR, task_id, key))

    with caplog.at_level(logging.INFO):
        answer = await served.fake.post_callback(served.url, *served.fake.callback_request(event))

    assert answer == (200, "success")
    assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
    assert await served.rows() == 0
    await served.part.wait_for_card_updates()
    assert "/cgi-bin/message/update_template_card" not in served.fake.requests
    assert "another app" in caplog.text and COORDINATOR not in caplog.text and key not in caplog.text


async def test_a_message_to_another_app_gets_no_reply(served: Served, session: AsyncSession) -> None:
    created = int(served.rt.clock.now().timestamp())
    xml = (
        f"<xml><ToUserName><![CDATA[{served.fake.corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{STRANGER}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
        f"<MsgId>7100000000000000001</MsgId><AgentID>{OTHER_AGENT}</AgentID></xml>"
    )

    assert await served.fake.post_callback(served.url, *served.fake.callback_request(xml)) == (200, "success")

    assert await replies(session, STRANGER) == []
    assert await served.rows() == 0


async def test_the_same_message_to_our_app_is_answered(served: Served, session: AsyncSession) -> None:
    """The contrast: the help reply the message above did not get."""
    await say(served, STRANGER, "你好")

    assert len(await replies(session, STRANGER)) == 1 and await served.rows() == 1
