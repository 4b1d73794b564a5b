"""The escalation stories on Aliyun: the Aliyun pager (official SDKs, real HTTP) against the fake Aliyun, which
pushes its receipts and key presses unsigned to our /pager/aliyun/<secret>/<push type> the way Aliyun's HTTP batch
push does — sometimes twice, sometimes never — and answers QuerySendDetails and QueryCallDetailByCallId.

The world is the Twilio stories' world (conftest) with its pager swapped for Aliyun's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from carevisit.escalation import timeline
from carevisit.escalation.aliyun_pager import AliyunPager
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.provider_limits import defaults, parse_limits
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import EmergencyContact, OutboxMessage
from tests.escalation.conftest import CONTACT1, CONTACT2, COORDINATOR, DyingPager, ProcessDied, World
from tests.escalation.fake_aliyun import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    QUERY_CALL_DETAIL,
    QUERY_SEND_DETAILS,
    SHOW_NUMBER,
    SIGN_NAME,
    FakeAliyun,
    Limits,
)
from tests.escalation.provider_templates import ALIYUN_REGISTERED_SMS, ALIYUN_REGISTERED_TTS, aliyun_templates

CALLBACK_SECRET = "Qz7pW2mX9vL4tR8nK3bF6hJ1"


@dataclass
class Aliyun:
    """The world on Aliyun: `fake` is the cloud, `pager` ours."""

    world: World
    fake: FakeAliyun
    pager: AliyunPager

    async def call_to(self, number: str) -> str:
        [row] = await self.world.outbox(channel=Channel.VOICE, to_address=number)
        assert row.provider_sid
        return row.provider_sid

    def biz_id(self, sid: str) -> str:
        return sid.split("~")[0]

    async def push_raw(self, push_type: str, items: list[dict[str, Any]], *, secret: str = CALLBACK_SECRET) -> int:
        url = f"{self.world.public_url}/pager/aliyun/{secret}/{push_type}"
        async with aiohttp.ClientSession() as http, http.post(url, json=items) as response:
            return response.status


@pytest.fixture
async def aliyun(world: World) -> AsyncIterator[Aliyun]:
    fake = FakeAliyun(
        world.clock, sms_templates=ALIYUN_REGISTERED_SMS, tts_templates=ALIYUN_REGISTERED_TTS, limits=Limits()
    )
    endpoint = await fake.start()
    pager = AliyunPager(
        access_key_id=ACCESS_KEY_ID,
        access_key_secret=ACCESS_KEY_SECRET,
        sign_name=SIGN_NAME,
        templates=aliyun_templates(),
        sms_endpoint=endpoint,
        voice_endpoint=endpoint,
        called_show_number=SHOW_NUMBER,
        timeout=15.0,
        clock=world.clock,
    )
    real = world.esc.pager
    world.esc.pager, world.esc.callback_secret = pager, CALLBACK_SECRET
    fake.callback_base = f"{world.public_url}/pager/aliyun/{CALLBACK_SECRET}"
    yield Aliyun(world, fake, pager)
    world.esc.pager, world.esc.callback_secret = real, None
    await pager.close()
    await fake.close()


# --- acknowledged ---


@pytest.mark.parametrize("callee_in_report", [True, False], ids=["report-names-callee", "only-the-final-record-does"])
async def test_pressing_1_acknowledges_once_aliyun_confirms_the_call(aliyun: Aliyun, callee_in_report: bool) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    [sms] = fake.sms_to(CONTACT1)
    assert sms.template == "SMS_480000001" and sms.params["name"] == "王秀英" and sms.sign == SIGN_NAME
    call_id = await aliyun.call_to(CONTACT1)
    assert fake.call(call_id).menu == [{"Key": "1", "Code": "TTS_300000002"}]

    fake.report_callee = callee_in_report
    fake.callee_presses(CONTACT1, "1")
    await fake.push_call(call_id)  # VoiceCallReport with dtmf 1, then VoiceReport
    assert QUERY_CALL_DETAIL in fake.requests  # believed only once Aliyun's own record says answered
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    [acked] = [e for e in entries if e.event == "acknowledged"]
    assert acked.facts == {"call_id": call_id, "key": "1"}
    assert sum("✅" in c.text for c in await world.chats()) == 1

    await world.tick(minutes=10)
    assert fake.sms_to(CONTACT2) == [] and fake.calls_to(CONTACT2) == []


async def test_answering_without_a_key_acknowledges_nothing(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    fake.callee_answers(CONTACT1)
    await fake.push_call(await aliyun.call_to(CONTACT1))
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    await world.tick(minutes=5)
    assert len(fake.sms_to(CONTACT2)) == 1


# --- not acknowledged ---


async def test_unacknowledged_it_pages_every_step_then_the_coordinators_alternating_templates(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    for number in (CONTACT1, CONTACT2):
        fake.callee_does_not_answer(number)
    incident_id = await world.open()
    await world.tick()
    await fake.push_call(await aliyun.call_to(CONTACT1))
    await world.tick(minutes=5)
    assert len(fake.sms_to(CONTACT2)) == 1 and len(fake.calls_to(CONTACT2)) == 1
    await fake.push_call(await aliyun.call_to(CONTACT2))
    await world.tick(minutes=5)
    assert [m.template for m in fake.sms_to(COORDINATOR)] == ["SMS_480000003"]
    await world.tick(minutes=10)
    await world.tick(minutes=15)
    templates = [m.template for m in fake.sms_to(COORDINATOR)]
    assert len(templates) == 3 and templates[1] != templates[0]  # repeats alternate: no "same content" limit
    assert len(fake.sms_to(CONTACT1)) == 1 and len(fake.calls_to(CONTACT1)) == 1
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_a_failed_delivery_and_an_unanswered_call_move_on_early(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    await world.open()
    await world.tick()
    [sms_row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert sms_row.provider_sid
    assert await fake.push("SmsReport", [fake.sms_report(aliyun.biz_id(sms_row.provider_sid), success=False)]) == [200]
    await world.tick(seconds=5)
    assert fake.sms_to(CONTACT2) == []  # the call may still be answered
    fake.callee_does_not_answer(CONTACT1)
    await fake.push_call(await aliyun.call_to(CONTACT1))
    await world.tick(seconds=5)
    assert len(fake.sms_to(CONTACT2)) == 1
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.UNDELIVERED


async def test_aliyuns_limit_refusal_is_recorded_as_refused_and_the_chain_goes_on(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    fake.limits.sms_per_day = 1
    # Minutes before, the same number had the same template and a call (another elder's emergency, say).
    family = Notice(
        "family_emergency", {"name": "张兰", "what": "跌倒", "volunteer": "刘洋", "time": "09:58", "code": "123456"}
    )
    await aliyun.pager.send_sms(to=CONTACT1, notice=family, callbacks=Callbacks(reference="0"))
    script = VoiceScript("family_emergency", {"name": "张兰", "what": "跌倒"})
    await aliyun.pager.place_call(to=CONTACT1, script=script, callbacks=Callbacks(reference="0"))
    await world.open()
    await world.tick(seconds=30)
    rows = await world.outbox(to_address=CONTACT1)
    assert [(r.channel, r.status, r.error_code) for r in rows] == [
        (Channel.SMS, DeliveryStatus.FAILED, "limit"),
        (Channel.VOICE, DeliveryStatus.FAILED, "limit"),
    ]
    assert len(fake.sms_to(CONTACT1)) == 1 and len(fake.calls_to(CONTACT1)) == 1  # refused, never retried
    await world.tick(seconds=1)
    assert len(fake.sms_to(CONTACT2)) == 1 and len(fake.calls_to(CONTACT2)) == 1


async def test_two_emergencies_paging_one_daughter_pace_her_second_call_within_aliyuns_limit(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    world.esc.limits = defaults("aliyun")  # 1 call a minute per callee
    other = await world.another_elder("李桂兰")  # her daughter is CONTACT1 too
    await world.open()
    await world.open(elder_id=other)
    await world.tick(seconds=1)
    assert len(fake.sms_to(CONTACT1)) == 2 and len(fake.calls_to(CONTACT1)) == 1
    [waiting] = [r for r in await world.outbox(channel=Channel.VOICE) if r.status == DeliveryStatus.PENDING]
    assert waiting.error_code == "paced"  # not sent, not failed: waiting for the limit
    await world.tick(seconds=30)
    assert len(fake.calls_to(CONTACT1)) == 1
    await world.tick(seconds=31)
    assert len(fake.calls_to(CONTACT1)) == 2
    calls = await world.outbox(channel=Channel.VOICE, to_address=CONTACT1)
    assert all(r.status != DeliveryStatus.FAILED for r in calls)  # Aliyun refused nothing


async def test_a_page_the_limit_would_hold_past_its_step_is_refused_here_and_the_chain_goes_on(
    aliyun: Aliyun,
) -> None:
    world, fake = aliyun.world, aliyun.fake
    world.esc.limits = parse_limits("aliyun", {"aliyun": {"voice": {"per_hour": 1}}})
    other = await world.another_elder("李桂兰")
    await world.open()
    second = await world.open(elder_id=other)
    await world.tick(seconds=1)
    assert len(fake.calls_to(CONTACT1)) == 1
    [held] = [r for r in await world.outbox(channel=Channel.VOICE) if r.incident_id == second]
    assert (held.status, held.error_code) == (DeliveryStatus.FAILED, "paced")
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=second)
    assert any(e.event == "status" and "1 call" in str(e.facts.get("error")) for e in entries)
    await world.tick(minutes=5)  # the step's wait: on to the second contact
    assert len(fake.calls_to(CONTACT2)) >= 1


# --- what a push cannot do ---


async def test_a_forged_key_press_never_silences_the_emergency(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    call_id = await aliyun.call_to(CONTACT1)

    def pressed(call: str, callee: str) -> list[dict[str, Any]]:
        item = {"call_id": call, "status_code": "300000", "status_time": "2026-03-10 10:00:20", "dtmf": "1"}
        return [item | {"out_id": "", "callee": callee[3:]}]

    assert await aliyun.push_raw("VoiceCallReport", pressed("116000000099^102000000099", CONTACT1)) == 200
    assert await aliyun.push_raw("VoiceCallReport", pressed(call_id, CONTACT2)) == 200  # our call, another number
    assert await aliyun.push_raw("VoiceCallReport", pressed(call_id, CONTACT1), secret="guessed") == 404
    # Our call, its callee, but Aliyun's record of it says nobody answered.
    fake.callee_does_not_answer(CONTACT1)
    fake.run_call(call_id)
    assert await aliyun.push_raw("VoiceCallReport", pressed(call_id, CONTACT1)) == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await aliyun.push_raw("VoiceCallReport", [{"call_id": call_id}]) == 400


async def test_a_key_press_aliyun_cannot_confirm_yet_is_asked_for_again(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    call_id = await aliyun.call_to(CONTACT1)
    fake.report_callee = True
    fake.callee_presses(CONTACT1, "1")
    [(push_type, report), final] = fake.run_call(call_id)
    call = fake.call(call_id)
    state, call.state = call.state, None  # the call record is not written yet
    assert await aliyun.push_raw(push_type, [report]) == 503  # so Aliyun pushes it again
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    call.state = state
    assert await aliyun.push_raw(push_type, [report]) == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
    assert final[0] == "VoiceReport"


async def test_a_duplicated_receipt_and_key_press_count_once(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    [sms_row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert sms_row.provider_sid
    before = await world.delivery_events()
    receipt = fake.sms_report(aliyun.biz_id(sms_row.provider_sid))
    assert await fake.push("SmsReport", [receipt], times=2) == [200, 200]
    assert await world.delivery_events() == before + 1
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.DELIVERED

    fake.report_callee = True
    fake.callee_presses(CONTACT1, "1")
    await fake.push_call(await aliyun.call_to(CONTACT1), times=2, order="reversed")
    assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
    assert sum("✅" in c.text for c in await world.chats()) == 1


# --- a crash ---


async def test_a_crash_after_aliyun_took_the_sms_is_recovered_through_querysenddetails(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    await world.open()
    world.esc.pager = DyingPager(aliyun.pager, after_send=True)
    await run_cycle(world.esc)
    with pytest.raises((ProcessDied, BaseExceptionGroup)):
        await world.worker.run_once()
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.SENDING and row.provider_sid is None
    assert len(fake.sms_to(CONTACT1)) == 1  # Aliyun has it; we never heard

    world.esc.pager = aliyun.pager
    restarted = OutboxWorker(world.esc)
    world.clock.advance(restarted.lease + timedelta(seconds=1))
    assert await restarted.recover() >= 1
    await restarted.drain()
    assert QUERY_SEND_DETAILS in fake.requests
    assert len(fake.sms_to(CONTACT1)) == 1  # found by number, day and OutId: not sent again
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.SENT and row.provider_sid
    record = await aliyun.pager.lookup(channel=Channel.SMS, sid=row.provider_sid)
    assert record is not None and record.reference == str(row.id)
    calls: list[OutboxMessage] = await world.outbox(channel=Channel.VOICE, to_address=CONTACT1)
    assert len(calls) == 1 and len(fake.calls_to(CONTACT1)) == 1  # the call cut off alongside went once


async def test_an_sms_reply_is_an_extra_way_to_acknowledge_and_退订_opts_out(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    assert await fake.push("SmsUp", [fake.sms_up(CONTACT2, "1")]) == [200]  # not paged yet: changes nothing
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    reply = fake.sms_up(CONTACT1, "1")
    assert await fake.push("SmsUp", [reply], times=2) == [200, 200]  # Aliyun retries: counted once
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "sms"
    assert sum("✅" in c.text for c in await world.chats()) == 1
    assert await fake.push("SmsUp", [fake.sms_up(CONTACT1, "退订")]) == [200]
    async with world.sessions() as session:
        contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None and contact.opted_out_at is not None


async def test_the_code_in_the_sms_acknowledges_on_the_fixed_page(aliyun: Aliyun) -> None:
    world, fake = aliyun.world, aliyun.fake
    incident_id = await world.open()
    await world.tick()
    [sms] = fake.sms_to(CONTACT1)
    code = sms.params["code"]
    assert code.isdigit() and len(code) == 6
    assert all("http" not in value and "/ack/" not in value for value in sms.params.values())
    async with aiohttp.ClientSession() as http, http.post(f"{world.public_url}/a/ack", data={"code": code}) as answer:
        assert answer.status == 200
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "code"
    await world.tick(minutes=20)
    assert fake.sms_to(CONTACT2) == []  # nobody else paged
