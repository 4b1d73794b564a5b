"""Nothing lost, nothing sent twice: Twilio failures, timeouts, outages and a process killed mid-send."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from carevisit.escalation.engine import run_cycle
from carevisit.escalation.notices import Callbacks, Notice
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import NotProcessed
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.storage.enums import Channel, DeliveryStatus
from tests.escalation.conftest import CONTACT1, CONTACT2, IMPATIENT, DyingPager, ProcessDied, World
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM
from tests.ports import free_port, loopback_host


@pytest.mark.parametrize("after_send", [True, False], ids=["died-after-twilio-sent", "died-before-twilio-heard"])
async def test_a_process_killed_mid_send_is_reconciled_on_restart_without_duplicate(
    world: World, after_send: bool
) -> None:
    await world.open()
    real = world.esc.pager
    world.esc.pager = DyingPager(real, after_send=after_send)
    await run_cycle(world.esc)
    with pytest.raises((ProcessDied, BaseExceptionGroup)):
        await world.worker.run_once()
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.status == DeliveryStatus.SENDING

    # Restart: a new worker, the real pager. Until the dead worker's lease runs out it may still be sending
    # for all anyone can tell, so its rows are left alone; then they are checked with Twilio first.
    world.esc.pager = real
    world.clock.advance(timedelta(seconds=30))
    restarted = OutboxWorker(world.esc)
    asked = len(world.twilio.requests)
    assert await restarted.recover() == 0
    assert len(world.twilio.requests) == asked
    world.clock.advance(restarted.lease)
    assert await restarted.recover() >= 1
    await restarted.drain()
    assert len(world.twilio.sms_to(CONTACT1)) == 1
    assert len(world.twilio.calls_to(CONTACT1)) == 1  # the call cut off alongside is reconciled too
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.provider_sid == world.twilio.sms_to(CONTACT1)[0].sid
    assert row.status == DeliveryStatus.QUEUED


async def test_killed_and_restarted_mid_escalation_resumes_on_time_with_no_duplicate(world: World) -> None:
    await world.open()
    await world.tick()
    # The process dies; a new one starts with fresh objects on the same database, 5 minutes later.
    restarted = OutboxWorker(world.esc)
    world.clock.advance(timedelta(minutes=5))
    await restarted.recover()
    await run_cycle(world.esc)
    await restarted.drain()
    await run_cycle(world.esc)  # run twice: the second changes nothing
    await restarted.drain()
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    assert len(world.twilio.sms_to(CONTACT2)) == 1 and len(world.twilio.calls_to(CONTACT2)) == 1


async def test_rate_limited_requests_are_retried_at_once_and_sent_once(world: World) -> None:
    world.twilio.fail_next(429, code=20429, times=3)
    await world.open()
    await world.tick()
    assert len(world.twilio.sms_to(CONTACT1)) == 1
    assert len(world.twilio.calls_to(CONTACT1)) == 1
    assert len([r for r in world.twilio.requests if r[0] == "POST"]) == 5


async def test_a_5xx_after_twilio_acted_is_looked_up_not_resent(world: World) -> None:
    world.twilio.fail_next(500, process=True)
    await world.open()
    await world.tick()
    rows = await world.outbox()
    assert {r.status for r in rows} == {DeliveryStatus.SENDING, DeliveryStatus.QUEUED}
    await world.tick(seconds=10)
    assert len(world.twilio.sms_to(CONTACT1)) + len(world.twilio.calls_to(CONTACT1)) == 2
    assert all(r.provider_sid for r in await world.outbox())


@pytest.mark.parametrize("pager_timeout", [IMPATIENT])
async def test_a_timeout_is_looked_up_before_sending_again(world: World) -> None:
    world.twilio.hang_next(1.0, process=True)
    await world.open()
    await world.tick()
    await world.tick(seconds=10)
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1


async def test_a_twilio_outage_is_ridden_out_and_each_page_goes_once(world: World) -> None:
    world.twilio.fail_next(503, times=6)  # the sends, then the look-ups, fail for a while
    await world.open()
    await world.tick()
    for _ in range(5):
        await world.tick(seconds=10)
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    assert all(r.status == DeliveryStatus.QUEUED for r in await world.outbox())


async def test_connection_refused_is_not_processed() -> None:
    nobody = loopback_host()  # a port on a loopback address of its own stays closed (tests/ports.py)
    pager = TwilioPager(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        api_base=f"http://{nobody}:{free_port(nobody)}",
        timeout=1,
    )
    try:
        with pytest.raises(NotProcessed):
            await pager.send_sms(to=CONTACT1, notice=Notice("text", {}, "hi"), callbacks=Callbacks())
    finally:
        await pager.close()


async def test_two_engine_runs_racing_on_one_step_page_once(world: World) -> None:
    from carevisit.escalation.engine import escalate

    incident_id = await world.open()
    results = await asyncio.gather(
        escalate(world.esc, incident_id=incident_id), escalate(world.esc, incident_id=incident_id)
    )
    assert sorted(results) == [False, True]
    await world.worker.drain()
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    assert (await world.incident(incident_id)).step == 1


async def test_two_engine_cycles_racing_page_every_incident_once(world: World) -> None:
    first, second = await world.open(), await world.open()
    results = await asyncio.gather(run_cycle(world.esc), run_cycle(world.esc))
    assert sum(results) == 2
    await world.worker.drain()
    assert len(world.twilio.sms_to(CONTACT1)) == 2 and len(world.twilio.calls_to(CONTACT1)) == 2
    assert [(await world.incident(i)).step for i in (first, second)] == [1, 1]
