"""An acknowledgement counts only where it can be tied to a page: replayed signed requests change nothing, a reply
acknowledges the open pages sent to that number (and says whose), links expire and never name who acknowledged,
viewers cannot acknowledge, and statuses never move a page backwards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import NotAllowed
from carevisit.care.clock import FakeClock
from carevisit.escalation import incidents
from carevisit.storage.enums import Channel, CoordinatorRole, DeliveryStatus, IncidentStatus
from carevisit.storage.models import DeliveryEvent
from tests.escalation.conftest import CONTACT1, CONTACT2, World
from tests.factories import make_coordinator, make_volunteer


async def test_a_replayed_sms_reply_does_not_acknowledge_a_later_emergency(world: World) -> None:
    first = await world.open()
    await world.tick()
    reply = world.twilio.inbound_callback(CONTACT1, "1")
    assert (await world.twilio.deliver(reply))[0] == 200
    assert (await world.incident(first)).status == IncidentStatus.ACKNOWLEDGED
    await world.resolve(first)

    later = await world.open()
    await world.tick(hours=1)
    assert len(world.twilio.sms_to(CONTACT1)) == 3  # page 1, the all-clear, page 2
    status, answer = await world.twilio.replay(reply)
    assert status == 200 and "<Message>" not in answer
    assert (await world.incident(later)).status == IncidentStatus.OPEN


async def test_a_reply_is_confirmed_by_sms_naming_the_elder(world: World) -> None:
    await world.open()
    await world.tick()
    status, _ = await world.twilio.inbound_sms(CONTACT1, "收到")
    assert status == 200
    [confirmation] = world.twilio.replies_to(CONTACT1)
    assert "王秀英" in (confirmation.body or "")


async def test_a_reply_from_a_number_paged_for_two_open_incidents_acknowledges_both(
    world: World, session: AsyncSession, clock: FakeClock
) -> None:
    other = await make_volunteer(
        session, clock, communities=[world.data["areas"]["community"]], name="赵敏", telegram_chat_id=556
    )
    await session.commit()
    second_elder = await world.another_elder("李桂兰")
    first = await world.open()
    second = await world.open(elder_id=second_elder, reporter=other.id)
    await world.tick()
    assert len(world.twilio.sms_to(CONTACT1)) == 2

    status, _ = await world.twilio.inbound_sms(CONTACT1, "1")
    assert status == 200
    for incident_id in (first, second):
        incident = await world.incident(incident_id)
        assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "sms"
    [confirmation] = world.twilio.replies_to(CONTACT1)
    assert "王秀英" in (confirmation.body or "") and "李桂兰" in (confirmation.body or "")
    told = {int(c.recipient) for c in await world.chats() if "✅" in c.text}
    assert told == {555, 556}  # each reporter hears about their own emergency


async def test_a_reply_acknowledges_only_pages_it_can_be_tied_to(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    await world.twilio.inbound_sms(CONTACT2, "1")  # contact 2 has not been paged yet
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    await world.resolve(incident_id)

    # A new emergency for someone else, not paged to contact 1: her late "1" is not a reply to it.
    stranger = await world.another_elder("陈伯", phone="+8613900000077", contact="陈明")
    unrelated = await world.open(elder_id=stranger)
    await world.tick(seconds=1)
    status, answer = await world.twilio.inbound_sms(CONTACT1, "1")
    assert status == 200
    assert (await world.incident(unrelated)).status == IncidentStatus.OPEN
    assert "陈伯" not in answer


async def test_a_replayed_keypress_does_not_acknowledge_a_later_emergency(world: World) -> None:
    first = await world.open()
    await world.tick()
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.answer(call.sid, digits="1")
    keypress = next(c for c, _ in world.twilio.callbacks if c.params.get("Digits") == "1")
    await world.resolve(first)

    later = await world.open()
    await world.tick(hours=1)
    status, _ = await world.twilio.replay(keypress)
    assert status == 200
    assert (await world.incident(later)).status == IncidentStatus.OPEN
    assert (await world.incident(first)).ack_channel == "voice"


async def test_a_duplicated_final_status_moves_the_step_on_once(world: World) -> None:
    await world.open()
    await world.tick()
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.set_status(call.sid, "no-answer")
    no_answer = world.twilio.callbacks[-1][0]
    await world.tick(seconds=1)
    assert len(world.twilio.sms_to(CONTACT2)) == 1
    assert (await world.twilio.replay(no_answer))[0] == 200
    assert (await world.twilio.replay(no_answer))[0] == 200
    await world.tick(seconds=1)
    assert len(world.twilio.sms_to(CONTACT2)) == 1  # step 2 is not cut short by the replays
    [row] = await world.outbox(channel=Channel.VOICE, step=0)
    async with world.sessions() as session:
        events = (await session.exec(select(DeliveryEvent.status).where(col(DeliveryEvent.outbox_id) == row.id))).all()
    assert list(events).count(DeliveryStatus.NO_ANSWER) == 1


@pytest.mark.parametrize(
    ("channel", "order", "final"),
    [
        (Channel.SMS, ["sent", "delivered", "sent", "queued", "delivered"], DeliveryStatus.DELIVERED),
        (Channel.VOICE, ["ringing", "in-progress", "completed", "ringing", "in-progress"], DeliveryStatus.COMPLETED),
        (Channel.SMS, ["undelivered", "sent", "delivered"], DeliveryStatus.UNDELIVERED),
    ],
)
async def test_a_late_lower_status_never_moves_a_page_backwards(
    world: World, channel: Channel, order: list[str], final: DeliveryStatus
) -> None:
    await world.open()
    await world.tick()
    record = (world.twilio.sms_to if channel == Channel.SMS else world.twilio.calls_to)(CONTACT1)[0]
    for status in order:
        assert (await world.twilio.deliver(world.twilio.status_callback(record.sid, status)))[0] == 200
    [row] = await world.outbox(channel=channel)
    assert row.status == final


async def test_an_ack_link_never_shows_who_acknowledged(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [link] = world.ack_links(CONTACT1)
    async with world.twilio._http.post(link) as response:  # type: ignore[union-attr]
        assert response.status == 200
    assert (await world.incident(incident_id)).acknowledged_by == f"contact:{world.contacts[0].id}"
    async with world.twilio._http.get(link) as response:  # type: ignore[union-attr]
        page = await response.text()
    assert response.status == 200 and "<form" not in page
    assert "李娜" not in page and "女儿" not in page and "已有人确认" in page


async def test_an_ack_link_stops_working_days_after_the_incident_is_resolved(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [link] = world.ack_links(CONTACT1)
    await world.resolve(incident_id)
    world.clock.advance(timedelta(days=2))
    async with world.twilio._http.get(link) as response:  # type: ignore[union-attr]
        assert response.status == 200  # shortly after, it still says the emergency is handled
    world.clock.advance(timedelta(days=6))
    for method in ("GET", "POST"):
        async with world.twilio._http.request(method, link) as response:  # type: ignore[union-attr]
            page = await response.text()
        assert response.status == 404
        assert "王秀英" not in page and "李娜" not in page and "链接无效或已过期" in page
    assert (await world.incident(incident_id)).status == IncidentStatus.RESOLVED


async def test_a_viewer_cannot_acknowledge(world: World, session: AsyncSession, world_data: dict[str, Any]) -> None:
    viewer = await make_coordinator(
        session, world.clock, area=world_data["areas"]["community"], role=CoordinatorRole.VIEWER
    )
    await session.commit()
    incident_id = await world.open()
    async with world.sessions() as s:
        with pytest.raises(NotAllowed):
            await incidents.acknowledge(
                s, clock=world.clock, incident_id=incident_id, by=f"coordinator:{viewer.id}", channel="telegram"
            )
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
