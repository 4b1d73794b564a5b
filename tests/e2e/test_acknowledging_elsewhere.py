"""Acknowledging where the people are: a coordinator presses the button the bot sent them on Telegram; a contact
answers the call about a drill started from the dashboard and presses 1. Either way the paging stops."""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import IncidentStatus
from tests.bot.conftest import ACKNOWLEDGE
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, CONTACT2, COORDINATOR_TG, VOLUNTEER_TG, People, Stack, eventually

LANG = "zh_CN"


async def test_a_coordinator_acknowledges_from_telegram_and_paging_stops(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    coordinator = await stack.link_coordinator(session, people.coordinator)

    await sos(volunteer)
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
    alert = await eventually(
        lambda: next((m for m in stack.tg.texts(COORDINATOR_TG) if "王秀英" in m), None), "alerting the coordinator"
    )
    assert alert
    await coordinator.press(ACKNOWLEDGE[LANG])
    incident = await stack.incident()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by == f"coordinator:{people.coordinator.id}"

    await stack.tick(minutes=10)
    await eventually(lambda: any("🔔" in m for m in stack.tg.texts(VOLUNTEER_TG)), "telling who was paged")
    await stack.tick(seconds=1)  # the chat sender keeps a second between two messages to one chat
    await eventually(lambda: any("✅" in m for m in stack.tg.texts(VOLUNTEER_TG)), "telling the volunteer")
    await stack.quiet()
    assert stack.twilio.sms_to(CONTACT2) == [] and stack.twilio.calls_to(CONTACT2) == []
    [told] = [m for m in stack.tg.texts(VOLUNTEER_TG) if "✅" in m]
    assert "赵主任 已确认收到（机器人）" in told  # in the volunteer's words, not the stored channel code


async def test_a_drill_from_the_dashboard_is_acknowledged_by_a_keypress(stack: Stack, people: People) -> None:
    await stack.start()
    coordinator = await stack.sign_in()
    page = await (await coordinator.get("/drill")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    async with coordinator.post(
        "/drill", data={"csrf": csrf.group(1), "elder_code": people.elder.external_id}, allow_redirects=False
    ) as response:
        assert response.status == 303, await response.text()
    await coordinator.close()

    await eventually(lambda: stack.twilio.sms_to(CONTACT1) and stack.twilio.calls_to(CONTACT1), "the drill page")
    assert "演练" in (stack.twilio.sms_to(CONTACT1)[0].body or "")
    [call] = stack.twilio.calls_to(CONTACT1)
    twiml = await stack.twilio.answer(call.sid, digits="1")
    assert "<Gather" in twiml[0]
    incident = await stack.incident()
    assert incident.is_drill and incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"

    await stack.tick(minutes=10)
    await stack.quiet()
    assert stack.twilio.sms_to(CONTACT2) == [] and stack.twilio.calls_to(CONTACT2) == []


async def test_nobody_in_the_family_answers_so_the_coordinator_is_paged_on_telegram_and_acknowledges_by_link(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await stack.link_coordinator(session, people.coordinator)

    await sos(volunteer)
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
    await stack.tick(minutes=5)
    await eventually(lambda: stack.twilio.sms_to(CONTACT2), "paging contact 2")
    await stack.tick(minutes=5)  # no third contact: on to the coordinators
    page = await eventually(
        lambda: next((m for m in stack.tg.texts(COORDINATOR_TG) if "🚨" in m), None), "paging the coordinator"
    )
    found = re.search(r"http\S+/ack/[A-Za-z0-9_.=-]+", page)
    assert found, page
    assert stack.http is not None
    async with stack.http.post(found.group(0)) as response:
        assert response.status == 200
    incident = await stack.incident()
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by == f"coordinator:{people.coordinator.id}"

    await stack.tick(minutes=30)
    await stack.quiet()
    assert len(stack.twilio.sms_to(CONTACT1)) == 1 and len(stack.twilio.sms_to(CONTACT2)) == 1
    assert len([m for m in stack.tg.texts(COORDINATOR_TG) if "🚨" in m]) == 1  # no repeat once acknowledged
