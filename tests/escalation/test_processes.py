"""Several service processes on one database: each has its own engine (connection pool), Escalation context,
pager and outbox worker, as two `carevisit run` would. They share the due incidents and pages, every page goes out
exactly once, and a worker that dies mid-send is taken over only once its lease has expired — reconciled, not
blindly resent."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import Channel, DeliveryStatus, PhoneKind
from carevisit.storage.models import Incident, OutboxMessage
from tests.escalation.conftest import CONTACT1, IMPATIENT, SECRET, DyingPager, ProcessDied, World
from tests.escalation.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_CREATE,
    FROM,
    MESSAGE_CREATE,
    FakeTwilio,
)
from tests.factories import make_contact, make_elder

SETTLED = {DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE}


@dataclass
class Process:
    """What one `carevisit run` holds for escalation."""

    name: str
    engine: AsyncEngine
    esc: Escalation
    worker: OutboxWorker

    async def step(self) -> int:
        """One pass of the part's loop: an engine cycle, then the outbox worker."""
        return await run_cycle(self.esc, limit=5) + await self.worker.run_once()


@pytest.fixture
async def processes(
    db_url: str, clock: FakeClock, fake_twilio: FakeTwilio, pager_timeout: float
) -> AsyncIterator[list[Process]]:
    assert fake_twilio.server is not None
    made: list[Process] = []
    pagers: list[TwilioPager] = []
    for name in ("one", "two"):
        engine = make_engine(db_url)
        pager = TwilioPager(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number=FROM,
            api_base=str(fake_twilio.server.make_url("")),
            timeout=pager_timeout,
        )
        pagers.append(pager)
        esc = Escalation(
            sessions=make_session_factory(engine),
            clock=clock,
            pager=pager,
            config=EscalationConfig(),
            secret=SECRET,
            public_url="http://127.0.0.1:9",
        )
        made.append(Process(name, engine, esc, OutboxWorker(esc, worker_id=f"worker-{name}", batch=6)))
    yield made
    for pager in pagers:
        await pager.close()
    for process in made:
        await process.engine.dispose()


async def open_many(session: AsyncSession, clock: FakeClock, world: World, n: int) -> list[int]:
    """`n` elders, the first four sharing a daughter (CONTACT1), each with an emergency open."""
    community = world.data["areas"]["community"]
    ids = []
    for i in range(n):
        elder = await make_elder(session, clock, community=community, name=f"老人{i}")
        phone = CONTACT1 if i < 4 else f"+86139100001{i:02d}"
        await make_contact(session, elder=elder, position=1, phone=phone, phone_kind=PhoneKind.MOBILE, name="家属")
        await session.commit()
        assert elder.id is not None
        ids.append(await world.open(elder_id=elder.id))
    return ids


async def pages(world: World) -> list[OutboxMessage]:
    return [r for r in await world.outbox() if r.purpose == "page"]


async def run_together(world: World, processes: list[Process], *, rounds: int = 80) -> None:
    """Both processes' loops at once, round after round, until every page is settled; when neither has
    anything to do, time moves on (to the next check of an uncertain page)."""
    for _ in range(rounds):
        done = sum(await asyncio.gather(*(p.step() for p in processes)))
        rows = await pages(world)
        if rows and not any(r.status in SETTLED for r in rows):
            return
        if not done:
            world.clock.advance(timedelta(seconds=10))
    raise AssertionError("pages still unsettled")


def assert_each_page_sent_once(world: World, rows: list[OutboxMessage]) -> None:
    records = {r.sid: r for r in world.twilio.records}
    assert len(records) == len(rows)
    for row in rows:
        assert row.provider_sid in records, row
        record = records[row.provider_sid or ""]
        assert (record.to, record.kind) == (row.to_address, "sms" if row.channel == Channel.SMS else "call")
        if row.channel == Channel.SMS:
            assert record.body == row.body


@pytest.mark.parametrize("pager_timeout", [IMPATIENT])
async def test_two_processes_share_the_pages_and_send_each_exactly_once(
    world: World, processes: list[Process], session: AsyncSession, clock: FakeClock
) -> None:
    incident_ids = await open_many(session, clock, world, 24)
    twilio = world.twilio
    twilio.fail_next(429, code=20429, kind=MESSAGE_CREATE, times=3)  # not processed: retried at once
    twilio.fail_next(500, process=True, kind=CALL_CREATE, times=2)  # placed, then an error: reconciled
    twilio.fail_next(500, kind=MESSAGE_CREATE)  # not sent, though nobody can tell: resent after the check
    twilio.hang_next(1.0, kind=CALL_CREATE)  # placed, answered after our client gave up: reconciled

    await run_together(world, processes)

    rows = await pages(world)
    assert len(rows) == 48 and {r.status for r in rows} == {DeliveryStatus.QUEUED}
    assert_each_page_sent_once(world, rows)
    assert Counter(r.to for r in twilio.records)[CONTACT1] == 8  # four elders' SMS and call to the shared daughter
    assert {r.lease_owner for r in rows} == {"worker-one", "worker-two"}  # both did their share
    for incident_id in incident_ids:
        assert (await world.incident(incident_id)).step == 1

    # Nothing more, whatever either process does later (leases and settling long past).
    clock.advance(timedelta(minutes=3))
    sent = len(twilio.records)
    for process in processes:
        await process.worker.recover()
        await process.worker.run_once()
    assert len(twilio.records) == sent


async def test_a_worker_that_died_mid_send_is_taken_over_only_after_its_lease_and_reconciled(
    world: World, processes: list[Process]
) -> None:
    dying, survivor = processes
    await world.open()
    dying.esc.pager = DyingPager(dying.esc.pager, after_send=True)  # the SMS reaches Twilio, then the process dies
    await run_cycle(dying.esc)
    with pytest.raises((ProcessDied, BaseExceptionGroup)):
        await dying.worker.run_once()
    [sms] = [r for r in await pages(world) if r.channel == Channel.SMS]
    assert (sms.status, sms.lease_owner) == (DeliveryStatus.SENDING, "worker-one")

    # While the lease runs, the survivor cannot tell the other process is dead: it leaves that row alone (it
    # does send the call, which nobody had claimed).
    for seconds in (0, 30, 60):
        world.clock.advance(timedelta(seconds=seconds))
        await survivor.worker.recover()
        await survivor.step()
    assert [kind for _, kind in world.twilio.requests].count(MESSAGE_CREATE) == 1  # only the dead worker's
    assert not any(kind.startswith("message.") for _, kind in world.twilio.requests[1:])
    [sms] = [r for r in await pages(world) if r.channel == Channel.SMS]
    assert (sms.status, sms.lease_owner) == (DeliveryStatus.SENDING, "worker-one")

    world.clock.advance(survivor.worker.lease)
    assert await survivor.worker.recover() >= 1
    await survivor.step()
    rows = await pages(world)
    assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
    assert len(world.twilio.sms_to(CONTACT1)) == 1 and len(world.twilio.calls_to(CONTACT1)) == 1
    assert_each_page_sent_once(world, rows)
    [sms] = [r for r in rows if r.channel == Channel.SMS]
    assert sms.lease_owner == "worker-two" and sms.attempts == 1  # found at Twilio, not sent again


async def test_on_postgres_a_worker_passes_over_rows_and_incidents_another_holds(
    backend: str, world: World, processes: list[Process], session: AsyncSession, clock: FakeClock
) -> None:
    if backend != "postgres":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite's single writer serialises the claims instead")
    first, second = processes
    incident_ids = await open_many(session, clock, world, 6)
    other = await first.engine.connect()  # another process, in the middle of its own claim
    try:
        held = await other.begin()
        await other.execute(
            text("SELECT id FROM incidents WHERE id IN (:a, :b) FOR UPDATE"),
            {"a": incident_ids[0], "b": incident_ids[1]},
        )
        # wait_for only guards against a test that would otherwise hang; nothing here is timed.
        assert await asyncio.wait_for(run_cycle(second.esc), timeout=30) == 4
        await held.rollback()
        assert await asyncio.wait_for(run_cycle(second.esc), timeout=30) == 2

        held = await other.begin()
        [a, b] = (await session.exec(select(OutboxMessage.id).order_by(col(OutboxMessage.id)).limit(2))).all()
        await other.execute(text("SELECT id FROM outbox WHERE id IN (:a, :b) FOR UPDATE"), {"a": a, "b": b})
        assert await asyncio.wait_for(second.worker.drain(), timeout=30) == 10
        assert len(world.twilio.records) == 10
        await held.rollback()
    finally:
        await other.close()
    assert await asyncio.wait_for(second.worker.drain(), timeout=30) == 2
    assert_each_page_sent_once(world, await pages(world))
    async with first.esc.sessions() as s:
        assert {i.step for i in (await s.exec(select(Incident))).all()} == {1}
