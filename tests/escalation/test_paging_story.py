"""Stories of an emergency: who gets paged, when, and what stops it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.ports import WECOM
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.timeline import incident_timeline
from carevisit.storage.enums import Channel, CoordinatorRole, DeliveryStatus, IncidentStatus, PhoneKind
from carevisit.storage.models import Coordinator, Volunteer
from tests.escalation.conftest import CONTACT1, CONTACT2, COORDINATOR, World
from tests.factories import make_coordinator, make_elder


async def test_unacknowledged_incident_pages_contact_1_then_2_then_coordinators_and_keeps_paging(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    assert len(world.twilio.sms_to(CONTACT1)) == 1
    assert len(world.twilio.calls_to(CONTACT1)) == 1
    assert world.twilio.sms_to(CONTACT2) == []
    sms = world.twilio.sms_to(CONTACT1)[0].body or ""
    assert "王秀英" in sms and "张伟" in sms and "/ack/" in sms
    assert "意识" not in sms  # no health details by SMS

    await world.tick(minutes=4)
    assert world.twilio.sms_to(CONTACT2) == []
    await world.tick(minutes=1)
    assert len(world.twilio.sms_to(CONTACT2)) == 1
    assert len(world.twilio.calls_to(CONTACT2)) == 1

    # No third contact: straight on to the community's coordinators after step 2's wait.
    await world.tick(minutes=5)
    assert len(world.twilio.sms_to(COORDINATOR)) == 1
    assert any(c.recipient == "777" and "王秀英" in c.text for c in await world.chats())

    # Every step exhausted: the coordinators are paged again at the repeat interval, never dropped.
    await world.tick(minutes=10)
    await world.tick(minutes=15)
    coordinator_sms = [r.body for r in world.twilio.sms_to(COORDINATOR)]
    assert len(coordinator_sms) == 3
    assert len(set(coordinator_sms)) == 3  # varied text: China rejects a third identical SMS
    assert len(world.twilio.sms_to(CONTACT1)) == 1
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_reporting_volunteer_is_told_who_was_paged(world: World) -> None:
    await world.open()
    await world.tick()
    told = [c for c in await world.chats() if c.recipient == "555"]
    assert len(told) == 1 and "李娜" in told[0].text


async def test_acknowledging_by_link_stops_paging_and_tells_the_volunteer(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [link] = world.ack_links(CONTACT1)
    assert link.startswith(world.public_url)
    async with world.twilio._http.get(link) as response:  # type: ignore[union-attr]
        page = await response.text()
    assert response.status == 200 and "<form" in page and "王秀英" in page
    async with world.twilio._http.post(link) as response:  # type: ignore[union-attr]
        assert response.status == 200
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by == f"contact:{world.contacts[0].id}"
    assert incident.ack_channel == "link"
    assert any(c.recipient == "555" and "李娜" in c.text and "✅" in c.text for c in await world.chats())

    await world.tick(minutes=30)
    assert world.twilio.sms_to(CONTACT2) == []

    # The same link again only says that someone has it (never who: links get forwarded); a forged one is refused.
    async with world.twilio._http.post(link) as response:  # type: ignore[union-attr]
        again = await response.text()
    assert "已有人确认" in again and "李娜" not in again
    assert (await world.incident(incident_id)).acknowledged_at == incident.acknowledged_at
    forged = link[:-4] + "AAAA"
    async with world.twilio._http.post(forged) as response:  # type: ignore[union-attr]
        assert response.status == 404


async def test_keypress_1_in_the_call_acknowledges(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [call] = world.twilio.calls_to(CONTACT1)
    twiml = await world.twilio.answer(call.sid, digits="1")
    assert '<Say language="zh-CN">' in twiml[0] and "<Gather" in twiml[0]
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"
    await world.tick(minutes=10)
    assert world.twilio.calls_to(CONTACT2) == []


async def test_sms_reply_from_the_paged_number_acknowledges_and_others_are_ignored(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    status, _ = await world.twilio.inbound_sms("+8613911112222", "1")
    assert status == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    status, reply = await world.twilio.inbound_sms(CONTACT1, "收到")
    assert status == 200 and "<Message>" in reply
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "sms"


async def test_a_forged_webhook_is_refused_and_changes_nothing(world: World) -> None:
    await world.open()
    await world.tick()
    [row] = await world.outbox(channel=Channel.SMS)
    url = f"{world.public_url}/twilio/status?o={row.id}"
    params = {"MessageSid": row.provider_sid or "", "MessageStatus": "failed"}
    assert (await world.twilio.post_signed(url, params, signature="forged"))[0] == 403
    assert (await world.twilio.post_signed(url, params, signature=""))[0] == 403
    [after] = await world.outbox(channel=Channel.SMS)
    assert after.status == row.status
    status, _ = await world.twilio.inbound_sms(CONTACT1, "1")  # a properly signed one still works
    assert status == 200


async def test_failed_delivery_and_unanswered_call_move_on_early(world: World) -> None:
    await world.open()
    await world.tick()
    [sms] = world.twilio.sms_to(CONTACT1)
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.set_status(sms.sid, "undelivered", error_code="30003")
    await world.tick(seconds=5)
    assert world.twilio.sms_to(CONTACT2) == []  # the call may still be answered
    await world.twilio.set_status(call.sid, "no-answer")
    await world.tick(seconds=5)
    assert len(world.twilio.sms_to(CONTACT2)) == 1


async def test_out_of_order_status_callbacks_are_ignored(world: World) -> None:
    await world.open()
    await world.tick()
    [sms] = world.twilio.sms_to(CONTACT1)
    await world.twilio.set_status(sms.sid, "delivered")
    await world.twilio.set_status(sms.sid, "sent")  # late
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.status == DeliveryStatus.DELIVERED


async def test_a_number_twilio_refuses_fails_for_good_and_the_call_still_counts(world: World) -> None:
    world.twilio.fail_next(400, code=21614)  # "not a mobile number": permanent, never retried
    await world.open()
    await world.tick()
    await world.tick(seconds=30)
    [sms_row] = await world.outbox(channel=Channel.SMS)
    assert sms_row.status == DeliveryStatus.FAILED and sms_row.error_code == "21614"
    assert world.twilio.sms_to(CONTACT1) == []
    assert world.twilio.sms_to(CONTACT2) == []  # the call to contact 1 may still be answered
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.set_status(call.sid, "busy")
    await world.tick(seconds=1)
    assert len(world.twilio.sms_to(CONTACT2)) == 1


async def test_the_console_pager_logs_only_masked_numbers(caplog) -> None:  # type: ignore[no-untyped-def]
    from carevisit.escalation.pager import ConsolePager

    pager = ConsolePager()
    with caplog.at_level("INFO"):
        await pager.send_sms(to=CONTACT1, notice=Notice("text", {}, "王秀英跌倒"), callbacks=Callbacks())
        await pager.place_call(to=CONTACT1, script=VoiceScript("text", {}, ""), callbacks=Callbacks(script="http://x"))
    assert CONTACT1 not in caplog.text and "王秀英" not in caplog.text
    assert "NOT sending" in caplog.text


async def test_no_personal_data_in_info_logs_of_a_whole_story(world: World, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level("INFO"):
        await world.open()
        await world.tick()
        await world.twilio.inbound_sms(CONTACT1, "1")
    assert CONTACT1 not in caplog.text and "王秀英" not in caplog.text and "李娜" not in caplog.text


async def test_another_key_or_no_key_does_not_acknowledge(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [call] = world.twilio.calls_to(CONTACT1)
    silent = await world.twilio.answer(call.sid, digits=None)
    wrong = await world.twilio.answer(call.sid, digits="2")
    assert "<Gather" in silent[0] and "<Gather" in wrong[-1]
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_viewers_are_never_paged(world: World, session: AsyncSession, world_data: dict[str, Any]) -> None:
    community = world_data["areas"]["community"]
    await make_coordinator(
        session,
        world.clock,
        area=community,
        role=CoordinatorRole.VIEWER,
        phone="+8613700000088",
        phone_kind=PhoneKind.MOBILE,
        telegram_chat_id=888,
    )
    # A community whose only coordinator is a viewer: its street's coordinators are paged instead.
    other = world_data["areas"]["community2"]
    await make_coordinator(
        session,
        world.clock,
        area=other,
        role=CoordinatorRole.VIEWER,
        phone="+8613700000077",
        phone_kind=PhoneKind.MOBILE,
        telegram_chat_id=889,
    )
    await make_coordinator(
        session,
        world.clock,
        area=world_data["areas"]["street"],
        phone="+8613700000066",
        phone_kind=PhoneKind.MOBILE,
        telegram_chat_id=890,
    )
    elder = await make_elder(session, world.clock, community=other, name="周大爷")
    await session.commit()
    await world.open()
    await world.open(elder_id=elder.id)
    for minutes in (0, 5, 5, 5, 10):
        await world.tick(minutes=minutes)
    assert len(world.twilio.sms_to(COORDINATOR)) == 2  # step 4, then the first repeat
    assert world.twilio.sms_to("+8613700000088") == [] and world.twilio.calls_to("+8613700000088") == []
    assert world.twilio.sms_to("+8613700000077") == []
    assert world.twilio.sms_to("+8613700000066")
    chats = {int(c.recipient) for c in await world.chats()}
    assert 777 in chats and 890 in chats and not chats & {888, 889}


@pytest.mark.parametrize(("language", "round_2", "step_5"), [("zh_CN", "第2轮", "第5步"), ("en", "round 2", "step 5")])
async def test_repeated_rounds_tell_the_volunteer_the_round_not_a_step_past_the_policy(
    world: World, session: AsyncSession, language: str, round_2: str, step_5: str
) -> None:
    volunteer = await session.get(Volunteer, world.volunteer_id)
    assert volunteer is not None
    volunteer.language = language
    await session.commit()
    await world.open()
    for minutes in (0, 5, 5, 5, 10):  # four steps, then the coordinators again
        await world.tick(minutes=minutes)
    notices = [c.text for c in await world.chats() if c.recipient == "555"]
    assert len(notices) == 4  # steps 1, 2 and 4 (there is no contact 3), then the coordinators' second round
    assert round_2 in notices[-1] and step_5 not in notices[-1]


@pytest.mark.parametrize(
    ("language", "rounds", "count"),
    [("zh_CN", ("第1轮", "第2轮", "第3轮"), "次通知"), ("en", ("Round 1", "Round 2", "Round 3"), "Page ")],
)
async def test_coordinators_are_told_the_round_not_how_many_pages_went_before_theirs(
    world: World, session: AsyncSession, language: str, rounds: tuple[str, ...], count: str
) -> None:
    from carevisit.storage.models import Coordinator

    coordinator = await session.get(Coordinator, world.coordinator_id)
    assert coordinator is not None
    coordinator.language = language
    await session.commit()
    await world.open()
    for minutes in (0, 5, 5, 10, 15):  # two contacts (no third), then the coordinators, then two repeats
        await world.tick(minutes=minutes)
    sms = [r.body or "" for r in world.twilio.sms_to(COORDINATOR)]
    chats = [c.text for c in await world.chats() if c.recipient == "777"]
    for texts in (sms, chats):
        assert len(texts) == 3
        assert [label in text for label, text in zip(rounds, texts, strict=True)] == [True] * 3
        assert not any(count in text for text in texts)
    assert len(set(sms)) == 3  # still never identical
    assert len(world.twilio.sms_to(CONTACT1)) == 1  # the contacts' texts are unchanged ...
    assert "第1次通知" in (world.twilio.sms_to(CONTACT1)[0].body or "")  # ... they count the pages


async def test_a_coordinator_linked_to_wecom_is_paged_there_and_the_timeline_says_so(world: World) -> None:
    async with world.sessions() as session:
        coordinator = await session.get(Coordinator, world.coordinator_id)
        assert coordinator is not None
        coordinator.wecom_userid = "zhaoli"
        session.add(coordinator)
        await session.commit()
    incident_id = await world.open()
    for minutes in (0, 5, 5):  # contact 1, contact 2, then the coordinators
        await world.tick(minutes=minutes)
    pages = [c for c in await world.chats() if c.idempotency_key.startswith(f"page:{incident_id}:")]
    assert pages and {(c.channel, c.recipient) for c in pages} == {(WECOM, "zhaoli")}
    async with world.sessions() as session:
        entries = await incident_timeline(session, incident_id=incident_id)
    assert {e.channel for e in entries if e.event == "chat"} == {WECOM}
