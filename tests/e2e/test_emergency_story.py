"""Story 2: a volunteer raises an emergency from a visit; the family is paged by SMS and call, acknowledges through
the link in the SMS, paging stops, the volunteer is told, a coordinator resolves it and the family hears so."""

from __future__ import annotations

import re

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import IncidentNote
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, CONTACT2, VOLUNTEER_TG, People, Stack, eventually

LANG = "zh_CN"


async def test_an_emergency_from_a_visit_is_paged_acknowledged_and_resolved(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)

    await sos(volunteer)
    numbers, contacts = stack.tg.texts(VOLUNTEER_TG)[-2:]
    assert all(n in numbers for n in ("120", "110", "119"))
    assert "李娜" in contacts and CONTACT1 in contacts and "王强" in contacts

    await stack.paged(CONTACT1)
    incident = await stack.incident()
    assert incident.status == IncidentStatus.OPEN and incident.elder_id == people.elder.id
    [link] = stack.ack_links(CONTACT1)
    assert link.startswith(stack.base_url + "/ack/")
    assert stack.http is not None
    async with stack.http.post(link) as response:
        assert response.status == 200
    incident = await stack.incident()
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "link"

    await stack.tick(minutes=10)  # well past contact 1's five minutes
    await eventually(lambda: any("🔔" in m for m in stack.tg.texts(VOLUNTEER_TG)), "telling who was paged")
    await stack.tick(seconds=1)  # the chat sender keeps a second between two messages to one chat
    told = await eventually(
        lambda: next((m for m in stack.tg.texts(VOLUNTEER_TG) if "✅" in m), None), "telling the volunteer"
    )
    assert "李娜" in told
    await stack.quiet()
    assert stack.twilio.sms_to(CONTACT2) == [] and stack.twilio.calls_to(CONTACT2) == []

    coordinator = await stack.sign_in()
    page = await (await coordinator.get(f"/incidents/{incident.id}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, "the incident page has no form"
    async with coordinator.post(
        f"/incidents/{incident.id}/resolve",
        data={
            "csrf": csrf.group(1),
            "what_happened": "老人在家中跌倒",
            "actions_taken": "拨打120，联系女儿",
            "outcome": "已送医，家属陪同",
        },
        allow_redirects=False,
    ) as response:
        assert response.status == 303, await response.text()
    await coordinator.close()

    all_clear = await eventually(lambda: len(stack.twilio.sms_to(CONTACT1)) == 2, "the all-clear to contact 1")
    assert all_clear
    assert "处理完毕" in (stack.twilio.sms_to(CONTACT1)[-1].body or "")
    assert (await stack.incident()).status == IncidentStatus.RESOLVED
    note = (await session.exec(select(IncidentNote))).one()
    assert (note.what_happened, note.outcome) == ("老人在家中跌倒", "已送医，家属陪同")
    await stack.quiet()
    assert stack.twilio.sms_to(CONTACT2) == []  # never paged, so no all-clear either


async def test_a_reply_while_the_call_is_still_being_placed_acknowledges(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    stack.twilio.hang_next(3.0, kind="call")  # Twilio is slow to answer the call request
    await sos(volunteer)
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "the SMS to contact 1")

    code, reply = await stack.twilio.inbound_sms(CONTACT1, "1")  # she has the SMS and answers at once
    assert code == 200 and "<Message>" in reply
    incident = await stack.incident()
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "sms"
    await stack.tick(minutes=10)
    await stack.quiet()
    assert stack.twilio.sms_to(CONTACT2) == []
