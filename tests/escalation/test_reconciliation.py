"""Rows whose send may or may not have reached Twilio are reconciled, never blindly resent — and never onto a page
that was not theirs: shared numbers, lists that lag, errors while asking, incidents acknowledged meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import Pager, PagerError, ProviderRecord, Sent
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import OutboxMessage
from tests.escalation.conftest import CONTACT1, IMPATIENT, World, WrappedPager
from tests.escalation.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_CREATE,
    FROM,
    MESSAGE_CREATE,
    MESSAGE_FETCH,
    MESSAGE_LIST,
    FakeTwilio,
)


async def test_two_uncertain_calls_to_one_shared_number_are_not_reconciled_onto_one_call(world: World) -> None:
    # Two elders share a daughter; both calls to her fail uncertainly, but Twilio placed only one of them.
    second = await world.another_elder("李桂兰")
    await world.open()
    await world.open(elder_id=second)
    world.twilio.fail_next(500, process=True, kind=CALL_CREATE)
    world.twilio.fail_next(500, process=False, kind=CALL_CREATE)
    await world.tick()
    assert len(world.twilio.calls_to(CONTACT1)) == 1
    await world.tick(seconds=10)
    await world.tick(seconds=30)
    calls = await world.outbox(channel=Channel.VOICE)
    assert len(world.twilio.calls_to(CONTACT1)) == 2  # the call Twilio never placed was placed again
    assert sorted(r.provider_sid or "" for r in calls) == sorted(c.sid for c in world.twilio.calls_to(CONTACT1))
    assert len(world.twilio.sms_to(CONTACT1)) == 2


async def test_an_uncertain_page_is_not_resent_after_the_incident_was_acknowledged(world: World) -> None:
    incident_id = await world.open()
    world.twilio.fail_next(500, kind=CALL_CREATE)  # Twilio did not place it; we cannot know that yet
    await world.tick()
    [link] = world.ack_links(CONTACT1)
    async with world.twilio._http.post(link) as response:  # type: ignore[union-attr]
        assert response.status == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
    await world.tick(seconds=10)
    await world.tick(seconds=30)
    assert world.twilio.calls_to(CONTACT1) == []
    [call] = await world.outbox(channel=Channel.VOICE)
    assert call.status == DeliveryStatus.CANCELED and call.error_code == "stopped"


@pytest.mark.parametrize("pager_timeout", [IMPATIENT])
@pytest.mark.parametrize("fault", ["500-after-acting", "timeout-after-accepting"])
async def test_no_trace_in_a_lagging_list_is_not_taken_at_its_word(world: World, fault: str) -> None:
    world.twilio.list_lag = timedelta(seconds=20)  # longer than the first check comes
    if fault == "500-after-acting":
        world.twilio.fail_next(500, process=True, kind=MESSAGE_CREATE)
    else:
        world.twilio.hang_next(1.0, process=True, kind=MESSAGE_CREATE)  # our client gives up after 0.5 s
    await world.open()
    await world.tick()
    for _ in range(4):
        await world.tick(seconds=10)
    [sms] = world.twilio.sms_to(CONTACT1)
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.provider_sid == sms.sid and row.status == DeliveryStatus.QUEUED


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (403, 20008), (400, 20001)])
async def test_an_error_while_asking_twilio_is_not_taken_for_no_trace(world: World, status: int, code: int) -> None:
    world.twilio.fail_next(500, kind=MESSAGE_CREATE)  # not sent, though we cannot know it
    await world.open()
    await world.tick()
    world.twilio.fail_next(status, code=code, kind=MESSAGE_LIST, times=2)
    await world.tick(seconds=10)
    await world.tick(seconds=30)
    assert world.twilio.sms_to(CONTACT1) == []  # could not ask: still waiting, not resent
    [row] = await world.outbox(channel=Channel.SMS)
    assert row.status == DeliveryStatus.SENDING
    await world.tick(seconds=10)  # Twilio answers again: no trace, long enough after the attempt
    assert len(world.twilio.sms_to(CONTACT1)) == 1


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (403, 20008), (400, 20001)])
async def test_a_lookup_takes_only_a_404_for_no_such_message(fake_twilio: FakeTwilio, status: int, code: int) -> None:
    assert fake_twilio.server is not None
    pager = TwilioPager(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=str(fake_twilio.server.make_url(""))
    )
    try:
        sent = await pager.send_sms(to=CONTACT1, notice=Notice("text", {}, "hi"), callbacks=Callbacks())
        fake_twilio.fail_next(status, code=code, kind=MESSAGE_FETCH)
        with pytest.raises(PagerError):
            await pager.lookup(channel=Channel.SMS, sid=sent.sid)
        found = await pager.lookup(channel=Channel.SMS, sid=sent.sid)
        assert found is not None and found.sid == sent.sid
        assert await pager.lookup(channel=Channel.SMS, sid="SM" + "e" * 32) is None  # a real 404
    finally:
        await pager.close()


async def test_no_two_rows_can_hold_one_provider_sid(session: AsyncSession, clock: FakeClock) -> None:
    now = clock.now()
    for n in (1, 2):
        session.add(
            OutboxMessage(
                idempotency_key=f"k{n}",
                purpose="page",
                channel=Channel.VOICE,
                to_address=CONTACT1,
                body="",
                provider_sid="CA" + "1" * 32,
                not_before=now,
                created_at=now,
            )
        )
    with pytest.raises(IntegrityError):
        await session.commit()


class SlowFirstText(WrappedPager):
    """The real pager; the first SMS takes 25 s of the clock (holding the one slot), and Twilio answers the next one
    with a 500 after accepting it: a row that waited in a long round for a slot, then met an uncertain error."""

    def __init__(self, inner: Pager, world: World) -> None:
        self.inner, self.world, self.name, self.first = inner, world, "slow", True

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        if self.first:
            self.first = False
            self.world.clock.advance(timedelta(seconds=25))
            sent = await self.inner.send_sms(to=to, notice=notice, callbacks=callbacks)
            self.world.twilio.fail_next(500, process=True, kind=MESSAGE_CREATE)
            return sent
        return await self.inner.send_sms(to=to, notice=notice, callbacks=callbacks)


async def test_no_trace_counts_from_when_the_request_went_not_from_the_claim(world: World) -> None:
    world.twilio.list_lag = timedelta(seconds=20)
    second = await world.another_elder("李桂兰", phone="+8613900000055", contact="李明")
    await world.open()
    await world.open(elder_id=second)
    real = world.esc.pager
    world.esc.pager = SlowFirstText(real, world)
    world.worker = OutboxWorker(world.esc, concurrency=1)  # the second text waits 25 s for the slot
    await world.tick()
    world.esc.pager = real
    for _ in range(6):
        await world.tick(seconds=10)
    for number in (CONTACT1, "+8613900000055"):
        assert len(world.twilio.sms_to(number)) == 1, number  # accepted 25 s after the claim: found, not resent
    assert {r.provider_sid for r in await world.outbox(channel=Channel.SMS)} == {
        r.sid for r in world.twilio.records if r.kind == "sms"
    }


class RecordedMeanwhile(WrappedPager):
    """The real pager; while a worker lists a number's calls, another process records its own call's sid (the
    answer to its create) for another row: the sid that worker is about to claim is taken under its feet."""

    def __init__(self, inner: Pager, world: World, *, row_id: int, sid: str) -> None:
        self.inner, self.world, self.row_id, self.sid, self.name = inner, world, row_id, sid, "meanwhile"

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        found = await self.inner.find_recent(channel=channel, to=to, since=since)
        async with self.world.sessions() as session:
            row = await session.get(OutboxMessage, self.row_id)
            assert row is not None
            row.provider_sid, row.status, row.status_rank = self.sid, DeliveryStatus.QUEUED, DeliveryStatus.QUEUED.rank
            await session.commit()
        return found


async def test_a_sid_taken_by_another_process_while_reconciling_is_not_claimed_twice(world: World) -> None:
    second = await world.another_elder("李桂兰")
    await world.open()
    await world.open(elder_id=second)
    await run_cycle(world.esc)
    calls = await world.outbox(channel=Channel.VOICE)
    # Another process claimed the second call and placed it; its answer is not recorded yet.
    other_row = calls[1]
    async with world.sessions() as session:
        row = await session.get(OutboxMessage, other_row.id)
        assert row is not None
        row.status, row.status_rank, row.lease_owner = DeliveryStatus.SENDING, DeliveryStatus.SENDING.rank, "other"
        row.lease_until, row.sending_started_at = world.clock.now() + timedelta(minutes=2), world.clock.now()
        await session.commit()
    placed = await world.esc.pager.place_call(
        to=CONTACT1, script=VoiceScript("text", {}, ""), callbacks=Callbacks(script="http://127.0.0.1:9/v")
    )
    world.twilio.fail_next(500, kind=CALL_CREATE)  # this worker's call: not placed, though it cannot know
    await world.worker.drain()
    assert len(world.twilio.calls_to(CONTACT1)) == 1  # only the other process's

    real = world.esc.pager
    world.esc.pager = RecordedMeanwhile(real, world, row_id=other_row.id or 0, sid=placed.sid)
    world.clock.advance(timedelta(seconds=30))
    await world.worker.drain()  # it sees the other's call, not yet recorded, and would claim it: too late
    world.esc.pager = real
    await world.tick(seconds=10)  # asked again: the one call is taken, so its own is placed now
    rows = {r.id: r for r in await world.outbox(channel=Channel.VOICE)}
    assert rows[other_row.id].provider_sid == placed.sid
    mine = rows[calls[0].id]
    assert mine.provider_sid and mine.provider_sid != placed.sid and mine.status == DeliveryStatus.QUEUED
    assert len(world.twilio.calls_to(CONTACT1)) == 2


async def test_a_callback_names_the_true_owner_of_a_sid_a_reconciliation_guessed(world: World) -> None:
    second = await world.another_elder("李桂兰")
    await world.open()
    await world.open(elder_id=second)
    await run_cycle(world.esc)
    first, other = await world.outbox(channel=Channel.VOICE)
    sid = "CA" + "9" * 32
    async with world.sessions() as session:
        guessed = await session.get(OutboxMessage, first.id)
        assert guessed is not None
        guessed.provider_sid, guessed.status, guessed.status_rank = sid, DeliveryStatus.QUEUED, 3
        await session.commit()
    # Twilio's callback to the other row's own URL carries that sid: the call was the other row's.
    url = f"{world.public_url}/twilio/status?o={other.id}"
    params = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": "ringing", "To": CONTACT1, "From": FROM}
    assert (await world.twilio.post_signed(url, params))[0] == 200
    rows = {r.id: r for r in await world.outbox(channel=Channel.VOICE)}
    assert rows[other.id].provider_sid == sid and rows[other.id].status == DeliveryStatus.RINGING
    assert rows[first.id].provider_sid is None and rows[first.id].status == DeliveryStatus.SENDING
    assert rows[first.id].error_code == "uncertain"  # asked about again, and placed if Twilio has no other
