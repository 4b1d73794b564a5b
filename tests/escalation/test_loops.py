"""The escalation loops of one process: pages the engine hands straight to its worker, rounds that overlap so a
slow request holds up nobody else, texts before calls, and a crash between the engine's commit and the send."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from carevisit.escalation import outbox
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.loops import EscalationLoops
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.outbox import OutboxWorker, Slots
from carevisit.escalation.pager import ConsolePager, Pager, Sent
from carevisit.storage.enums import Channel, DeliveryStatus
from carevisit.storage.locks import process_name
from carevisit.storage.models import OutboxMessage
from tests.escalation.conftest import CONTACT1, World, WrappedPager


class GatedCalls(WrappedPager):
    """The real pager, except that calls wait at a gate the test opens: a Twilio slow to answer call requests."""

    def __init__(self, inner: Pager) -> None:
        self.inner = inner
        self.name = "gated"
        self.gate = asyncio.Event()
        self.waiting = 0

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        self.waiting += 1
        await self.gate.wait()
        return await self.inner.place_call(to=to, script=script, callbacks=callbacks)


class Watched(WrappedPager):
    """The real pager, noting when each request starts and ends; texts can be held at a gate the test opens."""

    def __init__(self, inner: Pager, *, hold_texts: bool = False) -> None:
        self.inner = inner
        self.name = "watched"
        self.events: list[str] = []
        self.texts_gate = asyncio.Event()
        if not hold_texts:
            self.texts_gate.set()

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        self.events.append("sms start")
        await self.texts_gate.wait()
        sent = await self.inner.send_sms(to=to, notice=notice, callbacks=callbacks)
        self.events.append("sms answered")
        return sent

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        self.events.append("call start")
        return await self.inner.place_call(to=to, script=script, callbacks=callbacks)


async def eventually(check: Callable[[], object], what: str) -> None:
    """Wait for an observable event (polled; nothing is asserted about time)."""
    for _ in range(1000):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_slow_call_request_holds_up_no_other_page(world: World) -> None:
    real = world.esc.pager
    gated = GatedCalls(real)
    world.esc.pager = gated
    loops = EscalationLoops(world.esc, world.worker, interval=5.0)
    task = asyncio.create_task(loops.run())
    try:
        await world.open()
        loops.nudge()
        await eventually(lambda: gated.waiting == 1 and world.twilio.sms_to(CONTACT1), "the SMS; the call waiting")

        second = await world.another_elder("李桂兰", phone="+8613900000055", contact="李明")
        await world.open(elder_id=second)
        loops.nudge()
        await eventually(lambda: world.twilio.sms_to("+8613900000055"), "the second SMS")
        assert world.twilio.calls_to(CONTACT1) == []  # the first call is still being placed meanwhile
        gated.gate.set()
        await eventually(lambda: len(world.twilio.calls_to("+8613900000055")) == 1, "both calls")
        await loops.wait_idle(2)
        assert len(world.twilio.calls_to(CONTACT1)) == 1 and len(world.twilio.sms_to(CONTACT1)) == 1
        rows = await world.outbox()
        assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
        assert {r.lease_owner for r in rows} == {world.worker.worker_id}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        world.esc.pager = real


async def test_pages_are_committed_claimed_and_handed_to_the_worker_of_the_process(world: World) -> None:
    incident_id = await world.open()
    assert await run_cycle(world.esc, sender=world.worker) == 1
    rows = await world.outbox()
    assert {(r.status, r.lease_owner, r.attempts) for r in rows} == {
        (DeliveryStatus.SENDING, world.worker.worker_id, 1)
    }
    assert world.twilio.records == []  # durable as 'sending' before any provider call
    assert await world.worker.run_once() == 2  # sent from the hand-over: no claim of its own
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    assert {r.status for r in await world.outbox()} == {DeliveryStatus.QUEUED}
    assert (await world.incident(incident_id)).step == 1


async def test_a_process_that_died_after_the_engine_commit_has_its_pages_sent_by_another_once(world: World) -> None:
    await world.open()
    dead = OutboxWorker(world.esc, worker_id="dead")
    await run_cycle(world.esc, sender=dead)  # committed, handed over — and the process dies before sending
    other = OutboxWorker(world.esc, worker_id="other")
    assert await other.run_once() == 0  # its lease still runs: nobody can tell it is dead
    world.clock.advance(dead.lease)
    await other.drain()  # no trace at Twilio, long enough after the attempt: sent now
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    rows = await world.outbox()
    assert {(r.status, r.lease_owner) for r in rows} == {(DeliveryStatus.QUEUED, "other")}
    assert await other.drain() == 0


async def test_a_waiting_text_goes_before_a_waiting_call() -> None:
    slots = Slots(1)
    order: list[str] = []

    async def request(name: str, *, urgent: bool) -> None:
        async with slots.held(urgent=urgent):
            order.append(name)

    async with slots.held(urgent=False):
        tasks = [
            asyncio.create_task(request("call 1", urgent=False)),
            asyncio.create_task(request("sms 1", urgent=True)),
            asyncio.create_task(request("call 2", urgent=False)),
            asyncio.create_task(request("sms 2", urgent=True)),
        ]
        await asyncio.sleep(0)  # let them all queue (no time passes: they only reach the queue)
        tasks[2].cancel()  # a waiter that gives up frees nobody's turn
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == ["sms 1", "sms 2", "call 1"]
    async with slots.held(urgent=False):  # and the one slot is free again
        pass


async def test_a_rounds_calls_are_placed_once_its_texts_are_answered(world: World) -> None:
    real = world.esc.pager
    watched = world.esc.pager = Watched(real)
    try:
        second = await world.another_elder("李桂兰", phone="+8613900000055", contact="李明")
        await world.open()
        await world.open(elder_id=second)
        await run_cycle(world.esc, sender=world.worker)
        assert await world.worker.run_once() == 4  # one round: two texts, two calls
    finally:
        world.esc.pager = real
    first_call = watched.events.index("call start")
    assert watched.events[:first_call].count("sms answered") == 2, watched.events


async def test_a_text_that_hangs_holds_its_rounds_call_back_only_a_moment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "CALLS_WAIT", 0.05)
    real = world.esc.pager
    watched = world.esc.pager = Watched(real, hold_texts=True)
    await world.open()
    await run_cycle(world.esc, sender=world.worker)
    sending = asyncio.create_task(world.worker.run_once())
    try:
        await eventually(lambda: world.twilio.calls_to(CONTACT1), "the call, while the text still hangs")
        assert watched.events[:2] == ["sms start", "call start"]
        watched.texts_gate.set()
        assert await sending == 2
    finally:
        watched.texts_gate.set()
        await asyncio.gather(sending, return_exceptions=True)
        world.esc.pager = real
    assert len(world.twilio.sms_to(CONTACT1)) == 1


async def test_console_pager_sids_are_unique_across_restarts() -> None:
    first, second = ConsolePager(), ConsolePager()
    sids = {
        (await p.send_sms(to=CONTACT1, notice=Notice("text", {}, "x"), callbacks=Callbacks())).sid
        for p in (first, second, first)
    }
    assert len(sids) == 3


async def test_the_worker_leases_renew_while_a_round_is_sending(world: World) -> None:
    world.worker.lease = timedelta(seconds=0.3)  # renewed every 0.1 s
    gated = GatedCalls(world.esc.pager)
    real, world.esc.pager = world.esc.pager, gated
    try:
        await world.open()
        await run_cycle(world.esc)
        rounds = asyncio.create_task(world.worker.drain())  # the texts' round, then the call's
        await eventually(lambda: gated.waiting == 1, "the call waiting at Twilio")
        first = next(r for r in await world.outbox() if r.channel == Channel.VOICE).lease_until
        world.clock.advance(timedelta(seconds=10))
        # Renewed past the moved clock: another worker would still leave the row alone.
        await eventually(lambda: _later(world, first), "the lease renewed")
        gated.gate.set()
        await rounds
    finally:
        world.esc.pager = real
    assert {r.status for r in await world.outbox()} == {DeliveryStatus.QUEUED}


async def _later(world: World, before: datetime | None) -> bool:
    [call] = [r for r in await world.outbox() if r.channel == Channel.VOICE]
    return bool(call.lease_until and before and call.lease_until > world.clock.now() > before)


def test_a_worker_is_named_like_every_lease_holder_and_fits_its_column_on_a_long_host_name(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "care-visit-" + "h" * 52)  # 63, the most a host name has
    width = OutboxMessage.__table__.c.lease_owner.type.length  # type: ignore[attr-defined]
    for name in (OutboxWorker(world.esc).worker_id, process_name()):
        host, pid, tag = name.split(":")
        assert len(name) <= width and host.startswith("care-visit-") and pid == str(os.getpid()) and tag
