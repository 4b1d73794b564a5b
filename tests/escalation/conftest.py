"""An escalation world: the real twilio client talking HTTP to a fake Twilio server, our webhooks served over
real HTTP at PUBLIC_URL, a migrated database and a fake clock that stories move forward."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation import incidents
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import Pager, ProviderRecord, Sent
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.escalation.webhooks import add_routes
from carevisit.storage.enums import Channel, PhoneKind
from carevisit.storage.models import ChatOutboxMessage, DeliveryEvent, EmergencyContact, Incident, OutboxMessage
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio
from tests.factories import make_area_tree, make_contact, make_coordinator, make_elder, make_volunteer
from tests.ports import free_port, loopback_host


class ProcessDied(BaseException):
    """Stands for the process being killed: nothing below catches it."""


class WrappedPager:
    """The real pager, every request passed through: a test's wrapper overrides only the requests it changes."""

    name = "wrapped"

    def __init__(self, inner: Pager) -> None:
        self.inner = inner

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        return await self.inner.send_sms(to=to, notice=notice, callbacks=callbacks)

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        return await self.inner.place_call(to=to, script=script, callbacks=callbacks)

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        return await self.inner.lookup(channel=channel, sid=sid)

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        return await self.inner.find_recent(channel=channel, to=to, since=since)

    async def close(self) -> None:
        return None  # the inner pager is the world's: it closes it

    def __getattr__(self, name: str) -> Any:
        # What else the real pager has (a domestic one's push parsing, list_lag) shows through the wrapper.
        return getattr(self.inner, name)


class DyingPager(WrappedPager):
    """Wraps the real pager and 'kills the process' just before or just after the provider call."""

    def __init__(self, inner: Pager, *, after_send: bool) -> None:
        self.inner = inner
        self.after_send = after_send
        self.name = "dying"

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        if not self.after_send:
            raise ProcessDied
        await self.inner.send_sms(to=to, notice=notice, callbacks=callbacks)
        raise ProcessDied


SECRET = b"test-secret-key"
CONTACT1 = "+8613900000001"
CONTACT2 = "+8613900000002"
COORDINATOR = "+8613700000009"
# The pager's real-time timeout. Generous in the world: a loaded 2-core CI machine can take a second to answer a
# page, which must not time out by accident. Tests of a timeout ask for IMPATIENT by parametrizing the fixture
# (`@pytest.mark.parametrize("pager_timeout", [IMPATIENT])`) and have the fake Twilio hold its answer longer.
PATIENT = 15.0
IMPATIENT = 0.5


@dataclass
class World:
    esc: Escalation
    worker: OutboxWorker
    twilio: FakeTwilio
    clock: FakeClock
    sessions: async_sessionmaker[AsyncSession]
    public_url: str
    elder_id: int
    volunteer_id: int
    coordinator_id: int
    contacts: list[EmergencyContact]
    data: dict[str, Any]

    async def tick(self, **delta: float) -> None:
        """Move time on, run one engine cycle, and let the outbox worker send what is due."""
        self.clock.advance(timedelta(**delta))
        await run_cycle(self.esc)
        await self.worker.drain()

    async def open(
        self, *, kind: str = "fall", drill: bool = False, elder_id: int | None = None, reporter: int | None = None
    ) -> int:
        async with self.sessions() as session:
            incident = await incidents.open_incident(
                session,
                clock=self.clock,
                policy=self.esc.config.policy,
                elder_id=elder_id or self.elder_id,
                kind=kind,
                description="老人摔倒，意识清醒",
                reporter_volunteer_id=reporter or self.volunteer_id,
                is_drill=drill,
            )
            await session.commit()
            assert incident.id is not None
            return incident.id

    async def resolve(self, incident_id: int) -> None:
        """The reporting volunteer resolves the incident with a handling record."""
        async with self.sessions() as session:
            await incidents.resolve(
                session,
                clock=self.clock,
                incident_id=incident_id,
                by=f"volunteer:{self.volunteer_id}",
                what_happened="跌倒",
                actions_taken="送医",
                outcome="已住院",
            )
            await session.commit()

    async def delivery_events(self) -> int:
        """How many provider statuses have been recorded, for all pages."""
        async with self.sessions() as session:
            return int((await session.exec(select(func.count()).select_from(DeliveryEvent))).one())

    async def incident(self, incident_id: int) -> Incident:
        async with self.sessions() as session:
            found = await session.get(Incident, incident_id)
            assert found is not None
            return found

    async def outbox(self, **where: Any) -> list[OutboxMessage]:
        async with self.sessions() as session:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            for name, value in where.items():
                query = query.where(getattr(OutboxMessage, name) == value)
            return list((await session.exec(query)).all())

    async def chats(self) -> list[ChatOutboxMessage]:
        async with self.sessions() as session:
            return list((await session.exec(select(ChatOutboxMessage).order_by(col(ChatOutboxMessage.id)))).all())

    async def another_elder(self, name: str, *, phone: str = CONTACT1, contact: str = "李娜") -> int:
        """A second elder of the same community whose first emergency contact has `phone` (two elders sharing a
        daughter is common)."""
        async with self.sessions() as session:
            elder = await make_elder(session, self.clock, community=self.data["areas"]["community"], name=name)
            await make_contact(session, elder=elder, position=1, phone=phone, name=contact, relation="女儿")
            await session.commit()
            assert elder.id is not None
            return elder.id

    def ack_links(self, number: str) -> list[str]:
        import re

        return [m.group(0) for r in self.twilio.sms_to(number) if (m := re.search(r"http\S+/ack/\S+", r.body or ""))]


@pytest.fixture
async def fake_twilio(clock: FakeClock) -> AsyncIterator[FakeTwilio]:
    twilio = FakeTwilio(clock)
    await twilio.start()
    yield twilio
    await twilio.close()


async def make_world_data(session: AsyncSession, clock: FakeClock) -> dict[str, Any]:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"], name="王秀英")
    c1 = await make_contact(session, elder=elder, position=1, phone=CONTACT1, name="李娜", relation="女儿")
    c2 = await make_contact(session, elder=elder, position=2, phone=CONTACT2, name="王强", relation="儿子")
    volunteer = await make_volunteer(
        session, clock, communities=[areas["community"]], name="张伟", phone="+8613712345678", telegram_chat_id=555
    )
    coordinator = await make_coordinator(
        session, clock, area=areas["community"], phone=COORDINATOR, phone_kind=PhoneKind.MOBILE, telegram_chat_id=777
    )
    await session.commit()
    return {"areas": areas, "elder": elder, "contacts": [c1, c2], "volunteer": volunteer, "coordinator": coordinator}


async def build_world(
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    twilio: FakeTwilio,
    data: dict[str, Any],
    *,
    config: EscalationConfig | None = None,
    pager_timeout: float = PATIENT,
) -> tuple[World, TestServer]:
    host = loopback_host()  # free_port's close-then-bind race cannot hit it (tests/ports.py)
    port = free_port(host)
    public_url = f"http://{host}:{port}"
    assert twilio.server is not None
    pager = TwilioPager(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        api_base=str(twilio.server.make_url("")),
        timeout=pager_timeout,
    )
    esc = Escalation(
        sessions=session_factory,
        clock=clock,
        pager=pager,
        config=config or EscalationConfig(policy=DEFAULT_POLICY),
        secret=SECRET,
        public_url=public_url,
    )
    app = web.Application()
    add_routes(app, esc, auth_token=AUTH_TOKEN)
    server = TestServer(app, host=host, port=port)
    await server.start_server()
    twilio.sms_webhook = f"{public_url}/twilio/sms"
    world = World(
        esc=esc,
        worker=OutboxWorker(esc, check_after=timedelta(seconds=10)),
        twilio=twilio,
        clock=clock,
        sessions=session_factory,
        public_url=public_url,
        elder_id=data["elder"].id,
        volunteer_id=data["volunteer"].id,
        coordinator_id=data["coordinator"].id,
        contacts=data["contacts"],
        data=data,
    )
    return world, server


@pytest.fixture
def pager_timeout() -> float:
    return PATIENT


@pytest.fixture
async def world_data(session: AsyncSession, clock: FakeClock) -> dict[str, Any]:
    return await make_world_data(session, clock)


@pytest.fixture
async def world(
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    fake_twilio: FakeTwilio,
    world_data: dict[str, Any],
    pager_timeout: float,
) -> AsyncIterator[World]:
    built, server = await build_world(session_factory, clock, fake_twilio, world_data, pager_timeout=pager_timeout)
    yield built
    await built.esc.pager.close()
    await server.close()
