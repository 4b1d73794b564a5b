"""Two real `carevisit run` processes on one PostgreSQL database, paging through a fake Twilio server: one is
killed (SIGKILL, nothing cleaned up) while Twilio holds its answer to a page it has already accepted. The other
process takes the page over once its lease runs out, finds it at Twilio and does not send it again; it also takes
over the scheduler if the dead one held it. Every contact is paged exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import SystemClock
from carevisit.config import Settings
from carevisit.escalation import incidents
from carevisit.policies import escalation_config
from carevisit.storage.enums import DeliveryStatus
from carevisit.storage.models import OutboxMessage
from tests.e2e.conftest import eventually
from tests.e2e.processes import ServiceProcess
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio
from tests.factories import make_area_tree, make_contact, make_elder

LEASE = 5  # seconds (CAREVISIT_OUTBOX_LEASE_SECONDS): how soon the survivor may take a dead process's page
SHARED = "+8613900000101"  # the daughter of both elders
OTHER = "+8613900000102"


@pytest.fixture
async def twilio() -> AsyncIterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio(SystemClock())  # the processes run on real time, so does Twilio's list lag
    yield fake, await fake.start()
    await fake.close()


def environment(db_url: str, api_base: str) -> dict[str, str]:
    return {
        "CAREVISIT_DATABASE_URL": db_url,
        "CAREVISIT_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "CAREVISIT_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "CAREVISIT_TWILIO_FROM": FROM,
        "CAREVISIT_TWILIO_API_BASE": api_base,
        "CAREVISIT_OUTBOX_LEASE_SECONDS": str(LEASE),
        # Calls need a TwiML address; nothing calls back here (the fake posts callbacks only when told to).
        "CAREVISIT_PUBLIC_URL": "http://127.0.0.1:9",
        "CAREVISIT_SECRET_KEY": "two-processes-secret-key",
    }


async def open_two_incidents(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Two elders whose first contact is the same daughter (common), and a third on a number of its own."""
    policy = escalation_config(Settings()).policy  # the shipped policy, as the processes run it
    clock = SystemClock()
    async with sessions() as session:
        tree = await make_area_tree(session)
        elders = [await make_elder(session, clock, community=tree["community"], external_id=f"P{i}") for i in range(3)]
        for elder, phone in zip(elders, (SHARED, SHARED, OTHER), strict=True):
            await make_contact(session, elder=elder, phone=phone)
        await session.commit()
        for elder in elders:
            assert elder.id is not None
            await incidents.open_incident(session, clock=clock, policy=policy, elder_id=elder.id, kind="fall")
        await session.commit()


async def sending_row(sessions: async_sessionmaker[AsyncSession]) -> OutboxMessage | None:
    async with sessions() as session:
        found = await session.exec(select(OutboxMessage).where(col(OutboxMessage.status) == DeliveryStatus.SENDING))
        return found.first()


async def unsettled(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        found = await session.exec(
            select(OutboxMessage).where(
                col(OutboxMessage.status).in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING))
                | col(OutboxMessage.error_code).is_not(None)
            )
        )
        return list(found.all())


async def test_a_page_whose_process_was_killed_mid_send_is_found_at_twilio_and_not_sent_again(
    backend: str,
    db_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    twilio: tuple[FakeTwilio, str],
    tmp_path: Path,
) -> None:
    if backend != "postgres":
        pytest.skip("several service processes run on PostgreSQL (docs/deploy.md)")
    twilio, api_base = twilio
    env = environment(db_url, api_base)
    twilio.hang_next(300, kind="sms")  # accepted at once, answered never: the sender dies waiting
    first = ServiceProcess("first", env=env, cwd=tmp_path, role="worker")
    second = ServiceProcess("second", env=env, cwd=tmp_path, role="worker")
    await first.start()
    await second.start()
    try:
        for process in (first, second):
            await process.wait_for_line("escalation started")
        await open_two_incidents(session_factory)

        row = await eventually(lambda: sending_row(session_factory), "a page held by Twilio", seconds=60)
        assert row.lease_owner is not None
        victim, survivor = (first, second) if f":{first.pid}:" in row.lease_owner else (second, first)
        assert f":{victim.pid}:" in row.lease_owner
        victim_led = any("scheduler started as leader" in line for line in victim.lines)
        await victim.kill()

        async def all_settled() -> bool:
            return not await unsettled(session_factory)

        await eventually(all_settled, "every page sent, the held one reconciled", seconds=90)
        if victim_led:
            await survivor.wait_for_line("scheduler started as leader", seconds=60)
    finally:
        await first.kill()
        await second.kill()

    # One SMS and one call per incident to the first contact: the shared daughter twice (two elders), the other once.
    assert len(twilio.sms_to(SHARED)) == 2, [r.body for r in twilio.sms_to(SHARED)]
    assert len(twilio.calls_to(SHARED)) == 2
    assert len(twilio.sms_to(OTHER)) == 1 and len(twilio.calls_to(OTHER)) == 1
    async with session_factory() as session:
        sids = (await session.exec(select(OutboxMessage.provider_sid))).all()
        held = await session.get(OutboxMessage, row.id)
    assert len(sids) == len(set(sids)) == 6  # each row its own Twilio message or call, none claimed twice
    accepted = next(r for r in twilio.records if r.kind == "sms")  # the create Twilio took and never answered
    assert held is not None and held.provider_sid == accepted.sid and held.lease_owner != row.lease_owner
    assert "Traceback" not in survivor.output, survivor.output
