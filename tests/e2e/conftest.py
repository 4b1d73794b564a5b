"""The whole service, as `carevisit run` builds it: `serve(rt, parts=make_parts(rt))` on a migrated database,
with the real aiogram Bot talking HTTP to a fake Bot API server, the real twilio client talking HTTP to a fake
Twilio server, the web app on a real port (PUBLIC_URL), and one FakeClock that every part reads.

Users reach the service only the way they would in production: Telegram updates are POSTed to the service's
webhook with Telegram's secret header, acknowledgement links and dashboard pages are fetched over HTTP, and what
the service sends is looked at in the fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from carevisit.bootstrap import Runtime
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.care.invitations import create_invitation
from carevisit.cli import app as cli_app
from carevisit.config import Settings, load_settings
from carevisit.dashboard.accounts import hash_password
from carevisit.parts.base import Part
from carevisit.policies import visit_policy
from carevisit.scheduler.cron.service import SchedulerService
from carevisit.scheduler.planning import PlanSummary, generate_month
from carevisit.service import make_parts, serve
from carevisit.storage.enums import DeliveryStatus, RiskLevel
from carevisit.storage.models import (
    Area,
    ChatOutboxMessage,
    Coordinator,
    Elder,
    EmergencyContact,
    Incident,
    TelegramUpdate,
    Volunteer,
)
from tests.bot.conftest import TOKEN
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.dashboard.conftest import post_login
from tests.e2e import fault_matrix
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio
from tests.factories import make_area_tree, make_contact, make_coordinator, make_elder, make_volunteer, telegram
from tests.ports import free_port, loopback_host

ZONE = ZoneInfo("Asia/Shanghai")
SECRET_KEY = "e2e-secret-key-long-enough"
PASSWORD = "correct horse battery"
CONTACT1 = "+8613900000001"
CONTACT2 = "+8613900000002"
VOLUNTEER_TG = 1001
COORDINATOR_TG = 2001
MARKER_CHATS = 900_000  # Stack.chat_sender_passed's markers go to chats from here on; no test reads them
_markers = itertools.count(1)


async def eventually(condition: Callable[[], Any], what: str, *, seconds: float = 20.0) -> Any:
    """Wait for the service's background loops to have done something a user could see (no timing asserted)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                value = condition()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"the service never got to: {what}") from None


@dataclass
class People:
    areas: dict[str, Area]
    elder: Elder
    elder2: Elder
    contacts: list[EmergencyContact]
    volunteer: Volunteer
    coordinator: Coordinator


async def make_people(session: AsyncSession, clock: FakeClock) -> People:
    """A community with two elders, one volunteer not yet on Telegram, and a coordinator of the street."""
    areas = await make_area_tree(session)
    community = areas["community"]
    elder = await make_elder(session, clock, community=community, name="王秀英", risk=RiskLevel.HIGH)
    elder2 = await make_elder(session, clock, community=community, name="刘建国")
    contacts = [
        await make_contact(session, elder=elder, position=1, phone=CONTACT1, name="李娜", relation="女儿"),
        await make_contact(session, elder=elder, position=2, phone=CONTACT2, name="王强", relation="儿子"),
    ]
    volunteer = await make_volunteer(session, clock, communities=[community], name="张伟", phone="+8613712345678")
    coordinator = await make_coordinator(
        session, clock, area=areas["street"], name="赵主任", username="zhao", password_hash=hash_password(PASSWORD)
    )
    await session.commit()
    return People(areas, elder, elder2, contacts, volunteer, coordinator)


@dataclass
class Running:
    rt: Runtime
    parts: list[Part]
    task: asyncio.Task[None]
    stop: asyncio.Event

    def part(self, name: str) -> Any:
        return next(p for p in self.parts if p.name == name)


@dataclass
class Stack:
    """The fakes, the database and the clock; starts and stops service instances on them."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    db_url: str
    tg: FakeTelegram
    twilio: FakeTwilio
    host: str = field(default_factory=loopback_host)  # free_port's close-then-bind race cannot hit it (tests/ports.py)
    port: int = 0  # chosen on `host` when 0
    running: Running | None = None
    http: aiohttp.ClientSession | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def settings(self, **overrides: object) -> Settings:
        assert self.twilio.server is not None
        values: dict[str, object] = {
            "database_url": self.db_url,
            "telegram_token": TOKEN,
            "telegram_api_base": self.tg.base_url,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_from": FROM,
            "twilio_api_base": str(self.twilio.server.make_url("")).rstrip("/"),
            "public_url": self.base_url,
            "secret_key": SECRET_KEY,
            "web_host": self.host,
            "web_port": self.port,
        }
        values.update(overrides)
        return load_settings(**values)

    async def start(self, **overrides: object) -> Runtime:
        """A fresh service instance (own Runtime, own parts), as a new `carevisit run` process would build it."""
        assert self.running is None, "one service at a time"
        rt = Runtime(settings=self.settings(**overrides), clock=self.clock, engine=self.engine, sessions=self.sessions)
        stop = asyncio.Event()
        ready = asyncio.Event()
        parts = make_parts(rt)
        task = asyncio.create_task(serve(rt, parts=parts, started=ready.set, stop=stop))
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, ready_wait}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready_wait.cancel()
            task.result()  # re-raise why it would not start
        assert ready_wait in done, "the service did not start"
        self.running = Running(rt, parts, task, stop)
        self.twilio.sms_webhook = f"{self.base_url}/twilio/sms"
        return rt

    async def stop(self) -> None:
        if self.running is None:
            return
        running, self.running = self.running, None
        running.stop.set()
        await asyncio.wait_for(running.task, 20)

    # --- reaching the service as Telegram and people would ---

    @property
    def telegram_secret(self) -> str:
        """The secret the service gave Telegram with setWebhook: what Telegram sends back with every update."""
        registered = [c for c in self.tg.calls if c.method == "setWebhook"]
        assert registered, "the service never set its webhook"
        assert registered[-1].params["url"] == f"{self.base_url}/telegram/webhook"
        return str(registered[-1].params["secret_token"])

    async def post_update(self, update: dict[str, Any], *, secret: str | None = None) -> int:
        assert self.http is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": self.telegram_secret if secret is None else secret}
        async with self.http.post(f"{self.base_url}/telegram/webhook", json=update, headers=headers) as response:
            return response.status

    async def deliver(self, update: dict[str, Any]) -> None:
        """Telegram posts the update to the webhook; return once the service has handled it."""
        status = await self.post_update(update)
        assert status == 200, f"webhook answered {status}"

        async def handled() -> bool:
            async with self.sessions() as session:
                row = await session.get(TelegramUpdate, update["update_id"], populate_existing=True)
                return row is not None and row.processed_at is not None

        await eventually(handled, f"handling update {update['update_id']}")

    def person(self, user_id: int, language_code: str = "zh-hans") -> Person:
        return Person(self.tg, user_id, language_code, self.deliver)

    async def update_count(self) -> int:
        async with self.sessions() as session:
            return len((await session.exec(select(col(TelegramUpdate.update_id)))).all())

    def scheduler(self) -> SchedulerService:
        assert self.running is not None
        return self.running.part("scheduler").service  # type: ignore[no-any-return]

    @staticmethod
    def fire_now(scheduler: SchedulerService, job_id: str) -> None:
        """Make APScheduler run a job now. APScheduler keeps its own wall-clock timetable (it cannot be given our
        clock), so this is the one place a test reads real time; the job itself reads the FakeClock."""
        assert scheduler.scheduler is not None
        scheduler.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    async def plan_month(self, month: str = "2026-03") -> PlanSummary:
        return await generate_month(self.sessions, clock=self.clock, zone=ZONE, policy=visit_policy(None), month=month)

    async def link(self, session: AsyncSession, volunteer: Volunteer, user_id: int = VOLUNTEER_TG) -> Person:
        """The volunteer opens the invitation link a coordinator gave them."""
        return await self._open_invitation(session, user_id, volunteer_id=volunteer.id)

    async def link_coordinator(
        self, session: AsyncSession, coordinator: Coordinator, user_id: int = COORDINATOR_TG
    ) -> Person:
        """The coordinator opens the invitation link `carevisit invite --coordinator` printed."""
        return await self._open_invitation(session, user_id, coordinator_id=coordinator.id)

    async def _open_invitation(self, session: AsyncSession, user_id: int, **person: int | None) -> Person:
        token = await create_invitation(session, clock=self.clock, created_by="cli", **person)  # type: ignore[arg-type]
        await session.commit()
        chat = self.person(user_id)
        await chat.send(f"/start {token}")
        return chat

    async def volunteer_on_duty(self, session: AsyncSession, people: People) -> Person:
        """Where most stories begin: the month planned, the service running, the volunteer linked to the bot."""
        await self.plan_month()
        await self.start()
        return await self.link(session, people.volunteer)

    async def paged(self, number: str) -> None:
        """Wait until `number` has had its SMS and its call."""
        async with self.nudging():
            await eventually(lambda: self.twilio.sms_to(number) and self.twilio.calls_to(number), f"paging {number}")

    async def quiet(self) -> None:
        """Wait until the service has looked again, so that "nothing more was sent" means something: the engine and
        outbox loops each come round idle twice more with no round in flight (whatever is due has been decided and
        paged), then the chat sender past a marker queued after them (whatever was queued for Telegram and may go
        out now has gone out)."""
        assert self.running is not None
        try:
            async with self.nudging() as loops, asyncio.timeout(30):
                await loops.wait_idle(2)
        except TimeoutError:
            raise AssertionError("the escalation loop stopped cycling") from None
        await self.chat_sender_passed()

    @contextlib.asynccontextmanager
    async def nudging(self) -> AsyncIterator[Any]:
        """While inside, the escalation loops look again at once instead of after their idle interval (as when an
        incident is opened in their own process): each pass is still a real look at the database, only sooner."""
        assert self.running is not None
        loops = self.running.part("escalation").loops

        async def nudge() -> None:
            while True:
                loops.nudge()
                await asyncio.sleep(0.02)

        nudger = asyncio.create_task(nudge())
        try:
            yield loops
        finally:
            nudger.cancel()

    async def chat_sender_passed(self) -> None:
        """Queue a marker to a chat no test looks at and wait until the sender has dealt with it (sent, or failed:
        either way it got there). It drains in queue order, so every message queued before it that could go out now
        has gone out too. Each marker has a chat of its own: the sender keeps a second between two to one chat."""
        n = next(_markers)
        key = f"e2e-marker:{n}"
        async with self.sessions() as session:
            await outbound.enqueue(session, clock=self.clock, key=key, to=telegram(MARKER_CHATS + n), text="·")
            await session.commit()

        async def reached() -> bool:
            async with self.sessions() as session:
                row = await session.exec(
                    select(ChatOutboxMessage.status).where(ChatOutboxMessage.idempotency_key == key)
                )
                return row.one() != DeliveryStatus.PENDING

        await eventually(reached, "the chat sender reaching a marker queued after everything else")

    def ack_links(self, number: str) -> list[str]:
        return [m.group(0) for r in self.twilio.sms_to(number) if (m := re.search(r"http\S+/ack/\S+", r.body or ""))]

    async def incident(self, incident_id: int | None = None) -> Incident:
        async with self.sessions() as session:
            query = select(Incident).order_by(col(Incident.id))
            if incident_id is not None:
                query = query.where(col(Incident.id) == incident_id)
            found = (await session.exec(query.execution_options(populate_existing=True))).first()
            assert found is not None, "no incident"
            return found

    async def cli(self, *args: str) -> Result:
        """A `carevisit` command run beside the service on the same database (its own event loop, the wall clock)."""
        return await asyncio.to_thread(
            CliRunner().invoke, cli_app, list(args), env={"CAREVISIT_DATABASE_URL": self.db_url}
        )

    async def tick(self, **delta: float) -> None:
        """Move the one clock on; the parts' loops notice on their next pass."""
        self.clock.advance(timedelta(**delta))

    async def sign_in(self, username: str = "zhao") -> aiohttp.ClientSession:
        client = aiohttp.ClientSession(base_url=self.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with await post_login(client, username, PASSWORD) as response:
            assert response.status == 303, await response.text()
        return client


@pytest.fixture
async def tg(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(clock=clock)  # the stack's clock: a tap's 15 s to be answered and a 429's pause pass by tick
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def twilio(clock: FakeClock) -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio(clock)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def stack(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    db_url: str,
    tg: FakeTelegram,
    twilio: FakeTwilio,
) -> AsyncIterator[Stack]:
    built = Stack(engine=engine, sessions=session_factory, clock=clock, db_url=db_url, tg=tg, twilio=twilio)
    built.http = aiohttp.ClientSession()
    try:
        yield built
    finally:
        await built.stop()
        await built.http.close()


@pytest.fixture
async def people(session: AsyncSession, clock: FakeClock) -> People:
    return await make_people(session, clock)


# --- the fault matrix's table at the end of a run (tests/e2e/fault_matrix.py) ---

_matrix: dict[tuple[str, str], str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A matrix case (a `case` parameter with a step and a fault) carries its cell into its reports."""
    for item in items:
        case: Any = getattr(getattr(item, "callspec", None), "params", {}).get("case")
        step, fault = getattr(case, "step", None), getattr(case, "fault", None)
        if isinstance(step, str) and isinstance(fault, str):
            item.user_properties.append((fault_matrix.PROPERTY, (step, fault)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    cell = dict(report.user_properties).get(fault_matrix.PROPERTY)
    if not isinstance(cell, tuple) or (report.when != "call" and report.outcome == "passed"):
        return  # a passed setup or teardown says nothing yet; a failed one fails the cell
    fault_matrix.merge(_matrix, (str(cell[0]), str(cell[1])), report.outcome)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _matrix:
        return
    terminalreporter.section("fault matrix: the emergency chain, step × fault")
    for line in fault_matrix.render(_matrix):
        terminalreporter.write_line(line)
