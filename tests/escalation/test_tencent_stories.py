"""Escalation stories on Tencent: the world of conftest with TencentPager (the official SDK) talking to the fake
Tencent server, which pushes its receipts and key presses unsigned to our /pager/tencent/<secret>/<type>."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import col, select

from carevisit.care.clock import FakeClock
from carevisit.escalation import timeline
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.notices import Callbacks, Notice
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import Pager
from carevisit.escalation.tencent_pager import TencentPager
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import DeliveryEvent, OutboxMessage
from tests.escalation.conftest import (
    CONTACT1,
    CONTACT2,
    COORDINATOR,
    IMPATIENT,
    PATIENT,
    DyingPager,
    ProcessDied,
    World,
)
from tests.escalation.fake_tencent import SECRET_ID, SECRET_KEY, SIGN_NAME, SMS_APP_ID, VOICE_APP_ID, FakeTencent, Push
from tests.escalation.provider_templates import TENCENT_STORY_SMS, TENCENT_STORY_VOICE, tencent_templates

CALLBACK_SECRET = "t7Hq2ZxVn4KpR9wLmC3sB8dF"


@dataclass
class TencentWorld:
    world: World
    tencent: FakeTencent
    pager: TencentPager
    replaced: Pager  # the world's own pager, put back afterwards

    async def call_id(self, number: str) -> str:
        [row] = await self.world.outbox(channel=Channel.VOICE, to_address=number)
        assert row.provider_sid
        return row.provider_sid


async def tencent_world(world: World, clock: FakeClock, *, pager_timeout: float) -> TencentWorld:
    fake = FakeTencent(clock)
    await fake.start()
    fake.sms_templates |= TENCENT_STORY_SMS
    fake.voice_templates |= TENCENT_STORY_VOICE
    endpoint = f"http://{fake.endpoint}"
    pager = TencentPager(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        sms_app_id=SMS_APP_ID,
        voice_app_id=VOICE_APP_ID,
        sign_name=SIGN_NAME,
        templates=tencent_templates(),
        sms_endpoint=endpoint,
        voice_endpoint=endpoint,
        timeout=pager_timeout,
        clock=clock,
    )
    real = world.esc.pager
    world.esc.pager, world.esc.callback_secret = pager, CALLBACK_SECRET
    fake.push_base = f"{world.public_url}/pager/tencent/{CALLBACK_SECRET}"
    return TencentWorld(world, fake, pager, replaced=real)


@pytest.fixture
def tencent_timeout() -> float:
    return PATIENT


@pytest.fixture
async def tw(world: World, clock: FakeClock, tencent_timeout: float) -> AsyncIterator[TencentWorld]:
    made = await tencent_world(world, clock, pager_timeout=tencent_timeout)
    yield made
    await made.pager.close()
    await made.tencent.close()
    world.esc.pager, world.esc.callback_secret = made.replaced, None


async def test_pressing_1_on_the_call_acknowledges_with_its_evidence(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    incident_id = await world.open()
    await world.tick()
    [sms] = tencent.sms_to(CONTACT1)
    assert sms.template_id == "2480011" and sms.params[:3] == ["王秀英", "跌倒", "张伟"]
    call_id = await tw.call_id(CONTACT1)
    assert tencent.get_call(call_id).template_id == "2580001"
    assert await tencent.answer(call_id, key="1") == [200, 200]
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    [acked] = [e for e in entries if e.event == "acknowledged"]
    assert acked.facts == {"call_id": call_id, "key": "1"}
    await world.tick(minutes=20)
    assert tencent.sms_to(CONTACT2) == [] and tencent.calls_to(CONTACT2) == []


async def test_the_code_in_the_sms_acknowledges_on_the_fixed_page(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    incident_id = await world.open()
    await world.tick()
    [sms] = tencent.sms_to(CONTACT1)
    code = sms.params[-1]
    assert code.isdigit() and len(code) == 6 and "/ack/" not in sms.content
    async with aiohttp.ClientSession() as http, http.post(f"{world.public_url}/a/ack", data={"code": code}) as answer:
        assert answer.status == 200
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    await world.tick(minutes=20)
    assert tencent.sms_to(CONTACT2) == []


async def test_answered_without_a_key_does_not_acknowledge(tw: TencentWorld) -> None:
    incident_id = await tw.world.open()
    await tw.world.tick()
    await tw.tencent.answer(await tw.call_id(CONTACT1), key=None)
    assert (await tw.world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_nobody_acknowledges_and_every_step_runs_to_the_coordinators(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    incident_id = await world.open()
    await world.tick()
    await tencent.no_answer(await tw.call_id(CONTACT1))  # unanswered: step 2 at once
    await world.tick(seconds=1)
    assert len(tencent.sms_to(CONTACT2)) == 1 and len(tencent.calls_to(CONTACT2)) == 1
    await tencent.no_answer(await tw.call_id(CONTACT2))
    await world.tick(seconds=1)
    [coordinator] = tencent.sms_to(COORDINATOR)
    assert coordinator.template_id == "2480013" and coordinator.params[3] == "1"
    assert any(c.recipient == "777" for c in await world.chats())
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_a_failed_delivery_and_an_unanswered_call_move_on_early(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    await world.open()
    await world.tick()
    [sms] = tencent.sms_to(CONTACT1)
    assert await tencent.deliver_report(sms.serial_no, "FAIL", errmsg="MK:0005") == 200
    await world.tick(seconds=5)
    assert tencent.sms_to(CONTACT2) == []  # the call may still be answered
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.UNDELIVERED
    await tencent.no_answer(await tw.call_id(CONTACT1))
    await world.tick(seconds=5)
    assert len(tencent.sms_to(CONTACT2)) == 1


async def test_forged_key_presses_are_refused(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    incident_id = await world.open()
    await world.tick()
    call_id = await tw.call_id(CONTACT1)
    assert await tencent.push(Push("voicekey", tencent.voicekey_payload("made-up-call", "1", to=CONTACT1))) == [200]
    assert await tencent.push(Push("voicekey", tencent.voicekey_payload(call_id, "1", to=CONTACT2))) == [200]
    wrong_secret = f"{world.public_url}/pager/tencent/guessed-secret"
    assert await tencent.push(Push("voicekey", tencent.voicekey_payload(call_id, "1")), base=wrong_secret) == [404]
    aliyun_path = f"{world.public_url}/pager/aliyun/{CALLBACK_SECRET}"
    assert await tencent.push(Push("voicekey", tencent.voicekey_payload(call_id, "1")), base=aliyun_path) == [404]
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    # Our call to that callee, pressed long after the call could still be going on.
    world.clock.advance(timedelta(hours=1))
    assert await tencent.push(Push("voicekey", tencent.voicekey_payload(call_id, "1"))) == [200]
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_a_duplicated_receipt_counts_once_and_order_does_not_undo_it(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    await world.open()
    await world.tick()
    [sms] = tencent.sms_to(CONTACT1)
    tencent.report(sms.serial_no, "SUCCESS")
    before = await world.delivery_events()
    assert await tencent.push(Push("sms_status", tencent.sms_status_payload(sms.serial_no)), times=2) == [200, 200]
    assert await world.delivery_events() == before + 1
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.DELIVERED
    # The call's states out of order: the final one first, then a key press nobody made in time does nothing.
    call_id = await tw.call_id(CONTACT1)
    tencent.get_call(call_id).result = "1"
    prompt = Push("voiceprompt", tencent.voiceprompt_payload(call_id))
    await tencent.push(prompt, times=2)
    async with world.sessions() as session:
        statuses = (
            await session.exec(
                select(DeliveryEvent.status).where(
                    col(DeliveryEvent.outbox_id) == (await world.outbox(channel=Channel.VOICE))[0].id
                )
            )
        ).all()
    assert list(statuses).count(DeliveryStatus.NO_ANSWER) == 1


async def test_a_crash_mid_send_is_recovered_through_the_status_pull(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    await world.open()
    await run_cycle(world.esc)  # the pages are written (their SMS with codes: the pager is a domestic one)
    world.esc.pager = DyingPager(tw.pager, after_send=True)  # Tencent sent; we died before writing it down
    with pytest.raises((ProcessDied, BaseExceptionGroup)):
        await world.worker.run_once()
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.status == DeliveryStatus.SENDING and row.provider_sid is None
    world.esc.pager = tw.pager
    restarted = OutboxWorker(world.esc)
    world.clock.advance(restarted.lease + timedelta(seconds=30))
    assert await restarted.recover() >= 1
    await restarted.drain()
    [sms] = tencent.sms_to(CONTACT1)
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.provider_sid == sms.serial_no and row.status == DeliveryStatus.DELIVERED
    assert ("sms", "PullSmsSendStatusByPhoneNumber") in tencent.requests
    # The call cut off alongside: Tencent has no per-number call pull, so once "no trace" settled it is placed.
    assert len(tencent.calls_to(CONTACT1)) == 1


@pytest.mark.parametrize("tencent_timeout", [IMPATIENT])
async def test_a_send_that_timed_out_is_pulled_not_resent(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    tencent.hang_next(1.0, service="sms")  # Tencent sends at once and answers after our client gave up
    await world.open()
    await world.tick()
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.SENDING and row.error_code == "uncertain"
    for _ in range(4):
        await world.tick(seconds=10)
    [sms] = tencent.sms_to(CONTACT1)
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.provider_sid == sms.serial_no


async def test_a_daily_limit_refusal_is_recorded_and_the_next_step_goes_on(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    # This morning's all-clear used the number's one SMS of the day.
    tencent.sms_limits.per_day = 1
    await tw.pager.send_sms(to=CONTACT1, notice=Notice("all_clear", {"name": "王秀英"}), callbacks=Callbacks())
    await world.open()
    await world.tick()
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.FAILED and row.error_code == "limit"
    assert tencent.refusals == ["LimitExceeded.PhoneNumberDailyLimit"]
    await tencent.no_answer(await tw.call_id(CONTACT1))
    await world.tick(seconds=1)
    assert len(tencent.sms_to(CONTACT2)) == 1 and len(tencent.calls_to(CONTACT2)) == 1


@pytest.mark.parametrize("tencent_timeout", [IMPATIENT])
async def test_a_sending_row_holding_a_serial_no_is_found_by_the_pull_not_looked_up(tw: TencentWorld) -> None:
    # Tencent cannot be asked by SerialNo (lookup: CannotTell): the outbox looks for the sid among the number's
    # pulled statuses instead, and waits for "no trace" to settle rather than resend at once.
    world, tencent = tw.world, tw.tencent
    tencent.report_lag = None  # no receipt until the carrier reports
    tencent.hang_next(1.0, service="sms")
    await world.open()
    await world.tick()
    [sms] = tencent.sms_to(CONTACT1)
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    async with world.sessions() as session:  # a receipt named the row's SerialNo while it was still uncertain
        stored = await session.get(OutboxMessage, row.id)
        assert stored is not None and stored.status == DeliveryStatus.SENDING
        stored.provider_sid = sms.serial_no
        await session.commit()
    await world.tick(seconds=10)
    assert len(tencent.sms_to(CONTACT1)) == 1  # not in the pull yet, but too soon to call that "no trace"
    tencent.report(sms.serial_no, "SUCCESS")
    await world.tick(seconds=115)  # asked again once "no trace" would have settled (Tencent's list_lag, 2 min)
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.DELIVERED and row.provider_sid == sms.serial_no
    assert len(tencent.sms_to(CONTACT1)) == 1
    assert tencent.requests.count(("sms", "PullSmsSendStatusByPhoneNumber")) >= 2


async def test_a_reply_from_the_paged_number_is_an_extra_way_to_acknowledge(tw: TencentWorld) -> None:
    world, tencent = tw.world, tw.tencent
    incident_id = await world.open()
    await world.tick()
    assert await tencent.reply(CONTACT2, "1") == 200  # not paged yet: changes nothing
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await tencent.reply(CONTACT1, "收到") == 200
    assert await tencent.reply(CONTACT1, "收到") == 200  # pushed twice
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "sms"
    assert sum("✅" in c.text for c in await world.chats()) == 1
