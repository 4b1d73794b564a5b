"""Escalation latency: N incidents opened at once → the time until each one's first SMS request reaches a fake
provider (Twilio, Aliyun or Tencent: `--pager`), through the real path (the escalation loops: engine cycle → outbox
rows → worker → the provider's official async client → HTTP), in this process or in several service processes
sharing one PostgreSQL database. The fakes stamp the time each SMS request is acted on (loop time).

Baseline, same run, a fresh fake of the same kind: the bare official client (twilio; Aliyun's dysmsapi
`send_sms_with_options_async`; Tencent's async `SmsClient`) sending the same N messages — for Aliyun and Tencent
the very templates and variables our run sent, to the same numbers — with the same total concurrency.
Also checks that nothing is lost and nothing sent twice (each contact one first SMS; no sid, BizId or SerialNo
twice) — with `--faults`, while the fake answers 10% of sends with a 5xx (not sent) and accepts 5% but answers
only after the client's timeout.

Aliyun and Tencent run with their documented frequency limits on (the fakes' defaults, and the outbox pacing to
them as in production): every incident's contact has a number of its own, so no SMS is refused (one would fail the
run). With `--faults` a call whose answer was lost is placed again once "no trace" has settled (neither cloud
lists calls by number) and the voice limit refuses it, as the adapters intend: those are counted apart.

Usage: python bench/bench_escalation.py [--pager twilio|aliyun|tencent] [--rows N] [--db sqlite|URL]
       [--processes N] [--faults]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from carevisit.care.clock import SystemClock
from carevisit.escalation import incidents
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.loops import EscalationLoops
from carevisit.escalation.notices import Callbacks, Notice
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import Pager
from carevisit.escalation.provider_limits import defaults
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.service import settle_heap
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import AreaLevel, DeliveryStatus, PhoneKind
from carevisit.storage.models import Area, Elder, EmergencyContact, OutboxMessage, Volunteer
from tests.escalation import fake_aliyun, fake_tencent
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio, RandomFaults
from tests.escalation.provider_templates import (
    ALIYUN_REGISTERED_SMS,
    ALIYUN_REGISTERED_TTS,
    TENCENT_STORY_SMS,
    TENCENT_STORY_VOICE,
    aliyun_templates,
    tencent_templates,
)

CONCURRENCY = 20  # provider requests at once, in total (split between processes)
POLL = 0.02  # how often the benchmark looks at the fake (the times are stamped by the fake itself)
IDLE = 1.0  # the loops' idle interval, as in the service; the benchmark nudges them when it opens incidents
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)
PAGERS = ("twilio", "aliyun", "tencent")
STOP_GRACE = 5.0  # seconds the loops may take to finish their passes when the benchmark stops them
# What the fakes answer an SMS or a call their frequency limits refuse: (action, code).
SMS_LIMITS = frozenset(
    {
        ("SendSms", "isv.BUSINESS_LIMIT_CONTROL"),
        ("SendSms", "LimitExceeded.PhoneNumberThirtySecondLimit"),
        ("SendSms", "LimitExceeded.PhoneNumberDailyLimit"),
        ("SendSms", "LimitExceeded.PhoneNumberSameContentDailyLimit"),
    }
)
CALL_LIMITS = frozenset(
    {
        ("IvrCall", "isv.BUSINESS_LIMIT_CONTROL"),
        ("SingleCallByTts", "isv.BUSINESS_LIMIT_CONTROL"),
        ("SendTtsVoice", "LimitExceeded.DeliveryFrequencyLimit"),
    }
)
FIVE_XX = {"twilio": "500", "aliyun": "503", "tencent": "500"}  # what each fake answers a send it did not act on
CALLBACK_SECRET = "bench-callback-secret-0123456789"  # where the domestic clouds would push (nothing is pushed)


@dataclass(frozen=True)
class Timing:
    """The worker's timings: production's by default; with faults, short enough for a benchmark (and an idle
    interval to match, as the loops poll for rows coming due for a check)."""

    client_timeout: float = 15.0
    check_after: float = 10.0
    settle: float = 30.0
    idle: float = IDLE
    # How long Tencent's per-number pull lags a send, which "no trace" waits for (the adapter's 2 minutes unless
    # given): with faults, the fake's lag.
    tencent_list_lag: timedelta | None = None

    def worker(self, esc: Escalation, concurrency: int) -> OutboxWorker:
        return OutboxWorker(
            esc,
            concurrency=concurrency,
            check_after=timedelta(seconds=self.check_after),
            settle=timedelta(seconds=self.settle),
        )


FAKE_LIST_LAG = timedelta(seconds=0.4)  # the fakes' lists (Twilio's, Tencent's pull) lag a send: less than `settle`
FAULT_TIMING = Timing(client_timeout=0.5, check_after=0.2, settle=0.8, idle=0.05, tencent_list_lag=FAKE_LIST_LAG)
FAULT_HANG = 1.0  # an accepted create answered after this, past the client's timeout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def seed(sessions, clock, n: int) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    """N elders, each with a contact of their own number, and the volunteer who reports their incidents (the
    domestic templates name the volunteer and the time of the report: an empty variable is refused)."""
    async with sessions() as session:
        area = Area(code="1", name="社区", level=AreaLevel.COMMUNITY, path="/1/")
        session.add(area)
        await session.flush()
        now = clock.now()
        volunteer = Volunteer(
            external_id="V1",
            name="张伟",
            phone="+8613712345678",
            phone_kind=PhoneKind.MOBILE,
            capacity=20,
            created_at=now,
            updated_at=now,
        )
        session.add(volunteer)
        elders = [
            Elder(
                external_id=f"B{i}",
                name=f"老人{i}",
                community_id=area.id,
                enrolled_on=date(2026, 1, 1),
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        ]
        session.add_all(elders)
        await session.flush()
        session.add_all(
            EmergencyContact(
                elder_id=e.id, position=1, name="家属", phone=f"+86139{i:08d}", phone_kind=PhoneKind.MOBILE
            )
            for i, e in enumerate(elders)
        )
        await session.commit()
        assert volunteer.id is not None
        return [e.id for e in elders if e.id is not None], volunteer.id


def make_pager(pager: str, endpoint: str, timing: Timing) -> Pager:
    """The real adapter, as make_pager builds it from CAREVISIT_* settings, pointed at the fake's endpoint."""
    if pager == "aliyun":
        from carevisit.escalation.aliyun_pager import AliyunPager

        return AliyunPager(
            access_key_id=fake_aliyun.ACCESS_KEY_ID,
            access_key_secret=fake_aliyun.ACCESS_KEY_SECRET,
            sign_name=fake_aliyun.SIGN_NAME,
            templates=aliyun_templates(),
            sms_endpoint=endpoint,
            voice_endpoint=endpoint,
            called_show_number=fake_aliyun.SHOW_NUMBER,
            timeout=timing.client_timeout,
        )
    if pager == "tencent":
        from carevisit.escalation.tencent_pager import TencentPager

        tencent = TencentPager(
            secret_id=fake_tencent.SECRET_ID,
            secret_key=fake_tencent.SECRET_KEY,
            sms_app_id=fake_tencent.SMS_APP_ID,
            voice_app_id=fake_tencent.VOICE_APP_ID,
            sign_name=fake_tencent.SIGN_NAME,
            templates=tencent_templates(),
            sms_endpoint=f"http://{endpoint}",
            voice_endpoint=f"http://{endpoint}",
            timeout=timing.client_timeout,
        )
        if timing.tencent_list_lag is not None:
            tencent.list_lag = timing.tencent_list_lag
        return tencent
    return TwilioPager(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        api_base=endpoint,
        timeout=timing.client_timeout,
    )


def make_escalation(engine: AsyncEngine, pager: str, endpoint: str, timing: Timing) -> Escalation:
    domestic = pager != "twilio"
    return Escalation(
        sessions=make_session_factory(engine),
        clock=SystemClock(),
        pager=make_pager(pager, endpoint, timing),
        config=EscalationConfig(),
        secret=b"bench",
        public_url="http://127.0.0.1:9",
        callback_secret=CALLBACK_SECRET if domestic else None,
        limits=defaults(pager),  # the outbox paces each number within the provider's limits, as in production
    )


@dataclass(frozen=True)
class Seen:
    """One SMS request the fake acted on: to whom (E.164), when (loop time), the provider's id for it, and what
    was sent (for the baseline to send the same)."""

    to: str
    at: float
    sid: str
    message: tuple[str, ...] = ()


class Fake:
    """A fake provider for the benchmark: started, its SMS requests read, random faults switched on."""

    name = ""
    label = ""  # the provider's SDK, as the figures name it
    baseline_label = ""

    async def start(self, *, faults: bool) -> str:
        raise NotImplementedError

    def seen(self) -> list[Seen]:
        raise NotImplementedError

    def inject(self) -> None:
        raise NotImplementedError

    def injected(self) -> Counter[str]:
        raise NotImplementedError

    def refused(self) -> list[tuple[str, str]]:
        """(action, code) of every refusal the fake answered, its frequency limits' among them."""
        return []

    async def close(self) -> None:
        raise NotImplementedError


class TwilioFake(Fake):
    name, label, baseline_label = "Twilio", "twilio client", "bare twilio client, same server"

    async def start(self, *, faults: bool) -> str:
        self.fake = FakeTwilio(SystemClock(), list_lag=FAKE_LIST_LAG if faults else timedelta(seconds=5))
        return await self.fake.start()

    def seen(self) -> list[Seen]:
        pairs = zip(self.fake.records, self.fake.first_request_at, strict=True)
        return [Seen(r.to, at, r.sid) for r, at in pairs if r.kind == "sms"]

    def inject(self) -> None:
        self.fake.faults = RandomFaults(error_rate=0.10, timeout_rate=0.05, hang=FAULT_HANG)

    def injected(self) -> Counter[str]:
        return self.fake.faults.injected if self.fake.faults else Counter()

    async def close(self) -> None:
        await self.fake.close()


class AliyunFake(Fake):
    name, label = "Aliyun", "Aliyun SDK"
    baseline_label = "bare Aliyun dysmsapi client, same messages"

    async def start(self, *, faults: bool) -> str:
        # The documented limits (50 SMS a day per number and template, 1 call a minute per callee): each contact
        # has a number of its own, so none is refused. QuerySendDetails knows a send at once (no lag).
        self.fake = fake_aliyun.FakeAliyun(
            SystemClock(), sms_templates=ALIYUN_REGISTERED_SMS, tts_templates=ALIYUN_REGISTERED_TTS
        )
        return await self.fake.start()

    def seen(self) -> list[Seen]:
        return [
            Seen(f"+86{m.phone}", m.request_at, m.biz_id, (m.sign, m.template, _json(m.params)))
            for m in self.fake.messages
        ]

    def inject(self) -> None:
        self.fake.faults = fake_aliyun.RandomFaults(error_rate=0.10, timeout_rate=0.05, hang=FAULT_HANG)

    def injected(self) -> Counter[str]:
        return self.fake.faults.injected if self.fake.faults else Counter()

    def refused(self) -> list[tuple[str, str]]:
        return list(self.fake.refusals)

    async def close(self) -> None:
        await self.fake.close()


class TencentFake(Fake):
    name, label = "Tencent", "Tencent SDK"
    baseline_label = "bare Tencent SmsClient (async), same messages"

    async def start(self, *, faults: bool) -> str:
        # The console's default limits (same content 1 per 30 s, 2 a day per number; 1 call a night per callee):
        # one number per contact, none refused. The per-number status pull knows a send once its receipt came:
        # with faults that lag is shorter than the outbox's settle time, as Twilio's list lag is.
        lag = FAKE_LIST_LAG if faults else timedelta(seconds=10)
        self.fake = fake_tencent.FakeTencent(SystemClock(), report_lag=lag)
        self.fake.sms_templates |= TENCENT_STORY_SMS
        self.fake.voice_templates |= TENCENT_STORY_VOICE
        return await self.fake.start()

    def seen(self) -> list[Seen]:
        return [Seen(m.to, m.request_at, m.serial_no, (m.template_id, *m.params)) for m in self.fake.sms]

    def inject(self) -> None:
        self.fake.faults = fake_tencent.RandomFaults(error_rate=0.10, timeout_rate=0.05, hang=FAULT_HANG)

    def injected(self) -> Counter[str]:
        return self.fake.faults.injected if self.fake.faults else Counter()

    def refused(self) -> list[tuple[str, str]]:
        # The fake Tencent keeps codes only; its voice limit has a code of its own.
        voice = "LimitExceeded.DeliveryFrequencyLimit"
        return [("SendTtsVoice" if code == voice else "SendSms", code) for code in self.fake.refusals]

    async def close(self) -> None:
        await self.fake.close()


FAKES: dict[str, type[Fake]] = {"twilio": TwilioFake, "aliyun": AliyunFake, "tencent": TencentFake}


def _json(values: dict[str, str]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


async def open_incidents(sessions, esc_policy, elder_ids: list[int], reporter: int) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        for elder_id in elder_ids:
            await incidents.open_incident(
                session,
                clock=SystemClock(),
                policy=esc_policy,
                elder_id=elder_id,
                kind="fall",
                reporter_volunteer_id=reporter,
            )
        await session.commit()


async def settled(sessions, since_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Every page row of the measured incidents sent (or given up): nothing more can reach the fake."""
    async with sessions() as session:
        rows = await session.exec(
            select(OutboxMessage.status).where(col(OutboxMessage.id) > since_id, col(OutboxMessage.purpose) == "page")
        )
        statuses = list(rows.all())
    return bool(statuses) and not any(s in UNSETTLED for s in statuses)


async def last_outbox_id(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        found = await session.exec(select(OutboxMessage.id).order_by(col(OutboxMessage.id).desc()).limit(1))
        return found.first() or 0


class Services:
    """The service side: the escalation loops in this process, or in child processes."""

    def __init__(self, url: str, pager: str, api_base: str, timing: Timing, processes: int) -> None:
        self.url, self.pager, self.api_base, self.timing, self.processes = url, pager, api_base, timing, processes
        self._children: list[asyncio.subprocess.Process] = []
        self._local: tuple[asyncio.Task[None], Escalation, AsyncEngine, EscalationLoops] | None = None

    async def start(self) -> None:
        concurrency = max(1, CONCURRENCY // self.processes)
        if self.processes == 1:
            engine = make_engine(self.url)
            esc = make_escalation(engine, self.pager, self.api_base, self.timing)
            loops = EscalationLoops(esc, self.timing.worker(esc, concurrency), interval=self.timing.idle)
            self._local = (asyncio.create_task(loops.run()), esc, engine, loops)
            settle_heap()  # as `carevisit run` does once its parts have started
            return
        for _ in range(self.processes):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--child",
                "--db",
                self.url,
                "--pager",
                self.pager,
                "--api",
                self.api_base,
                "--concurrency",
                str(concurrency),
                *(["--faults"] if self.timing is FAULT_TIMING else []),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            self._children.append(child)
        for child in self._children:
            assert child.stdout is not None
            line = await child.stdout.readline()
            assert line.strip() == b"ready", line

    async def nudge(self) -> None:
        """Incidents were opened: as the opener would in a service process, tell the loops to look now."""
        if self._local is not None:
            self._local[3].nudge()
        for child in self._children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()

    async def stop(self) -> None:
        if self._local is not None:
            task, esc, engine, loops = self._local
            await stop_loops(loops, task)
            await esc.pager.close()
            await engine.dispose()
        for child in self._children:
            assert child.stdin is not None
            child.stdin.close()
            await child.wait()


async def stop_loops(loops: EscalationLoops, task: asyncio.Task[None]) -> None:
    """Let the passes in progress finish, as the service stops (a task cancelled while its session hands a
    connection back leaves a traceback); cancel only what is still running after STOP_GRACE."""
    loops.stop()
    _done, late = await asyncio.wait({task}, timeout=STOP_GRACE)
    if late:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def child_main(args: argparse.Namespace) -> None:
    """A service process: the escalation loops until the parent closes our stdin."""
    timing = FAULT_TIMING if args.faults else Timing()
    engine = make_engine(args.db)
    esc = make_escalation(engine, args.pager, args.api, timing)
    loops = EscalationLoops(esc, timing.worker(esc, args.concurrency), interval=timing.idle)
    runner = asyncio.create_task(loops.run())
    settle_heap()  # as `carevisit run` does once its parts have started
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):  # "go": incidents were opened; EOF: stop
        loops.nudge()
    await stop_loops(loops, runner)
    await esc.pager.close()
    await engine.dispose()


@dataclass
class Result:
    times: list[float]
    lost: int
    duplicates: int
    faults: Counter[str]
    senders: Counter[str]  # pages sent by each service process (its worker id)
    # SMS the fake's frequency limits refused: a second SMS to a number (a duplicate the cloud caught), or limits
    # the benchmark should not hit. Calls they refused: a call placed again after its answer was lost (neither
    # cloud lists calls by number, so "no trace" places it again; the limit refuses it, as designed).
    limited_sms: int = 0
    limited_calls: int = 0


async def ours(url: str, n: int, *, pager: str, processes: int, faults: bool) -> tuple[Result, list[Seen]]:
    """Our run, and the first SMS of each measured incident as the fake received it (for the baseline)."""
    clock = SystemClock()
    engine = make_engine(url)
    await schema.upgrade(engine)
    sessions = make_session_factory(engine)
    warm = 50 * processes  # enough that every process steps and sends some, untimed
    elder_ids, reporter = await seed(sessions, clock, n + warm)
    warm_ids, elder_ids = elder_ids[:warm], elder_ids[warm:]
    fake = FAKES[pager]()
    api_base = await fake.start(faults=faults)
    timing = FAULT_TIMING if faults else Timing()
    services = Services(url, pager, api_base, timing, processes)
    await services.start()
    policy = EscalationConfig().policy
    loop = asyncio.get_running_loop()
    try:
        # Warm up (SQL statement caches, connections) through the same path.
        before = await last_outbox_id(sessions)
        await open_incidents(sessions, policy, warm_ids, reporter)
        await services.nudge()
        while not await settled(sessions, before):  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.01)
        mark, refusals = len(fake.seen()), len(fake.refused())
        if faults:
            fake.inject()

        before = await last_outbox_id(sessions)
        await open_incidents(sessions, policy, elder_ids, reporter)
        opened = loop.time()
        await services.nudge()
        deadline = opened + 120
        # Watch the fake (in memory) while the first SMS go out, then the database until every page is settled:
        # anything extra (a duplicate) would have reached the fake by then.
        while len({s.to for s in fake.seen()[mark:]}) < n and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL)
        while not await settled(sessions, before) and loop.time() < deadline:  # noqa: ASYNC110 - polling
            await asyncio.sleep(0.05)
    finally:
        await services.stop()
        await fake.close()
    seen = fake.seen()[mark:]
    first: dict[str, Seen] = {}
    counts: Counter[str] = Counter()
    for one in seen:
        counts[one.to] += 1
        first.setdefault(one.to, one)
    sids = Counter(one.sid for one in seen)
    expected = {f"+86139{i + warm:08d}" for i in range(n)}
    async with sessions() as session:
        owners = await session.exec(
            select(OutboxMessage.lease_owner).where(col(OutboxMessage.id) > before, OutboxMessage.purpose == "page")
        )
        senders = Counter(str(owner) for owner in owners.all())
    await engine.dispose()
    result = Result(
        senders=senders,
        times=[first[number].at - opened for number in expected if number in first],
        lost=len(expected - set(first)),
        duplicates=sum(c - 1 for c in counts.values() if c > 1) + sum(c - 1 for c in sids.values() if c > 1),
        faults=fake.injected(),
        limited_sms=sum(1 for r in fake.refused()[refusals:] if r in SMS_LIMITS),
        limited_calls=sum(1 for r in fake.refused()[refusals:] if r in CALL_LIMITS),
    )
    return result, [first[number] for number in sorted(expected) if number in first]


async def baseline(pager: str, messages: list[Seen]) -> list[float]:
    """The bare official client sending the same messages to a fresh fake of the same kind, CONCURRENCY at a time;
    each message's time until the fake acted on it."""
    fake = FAKES[pager]()
    endpoint = await fake.start(faults=False)
    send = BARE[pager](endpoint)
    slots = asyncio.Semaphore(CONCURRENCY)
    loop = asyncio.get_running_loop()

    async def one(message: Seen) -> None:
        async with slots:
            await send(message)

    # A warm-up, as ours has: the same messages to other numbers (the clouds' limits are per number).
    await asyncio.gather(*(one(replace(m, to="+86138" + m.to[6:])) for m in messages[:5]))
    mark = len(fake.seen())
    start = loop.time()
    await asyncio.gather(*(one(m) for m in messages))
    times = [s.at - start for s in fake.seen()[mark:]]
    await send.close()
    await fake.close()
    if len(times) != len(messages):
        raise RuntimeError(f"the baseline sent {len(times)} of {len(messages)} messages")
    return times


class BareTwilio:
    def __init__(self, endpoint: str) -> None:
        self.pager = TwilioPager(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=endpoint)

    async def __call__(self, message: Seen) -> None:
        # TwilioPager's send is a single create through the bare client: Twilio's baseline as it always was.
        await self.pager.send_sms(to=message.to, notice=Notice("text", {}, "bench"), callbacks=Callbacks())

    async def close(self) -> None:
        await self.pager.close()


class BareAliyun:
    """dysmsapi's async client, as Aliyun's samples use it (retries off, as ours are)."""

    def __init__(self, endpoint: str) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.models import Config

        config = Config(
            access_key_id=fake_aliyun.ACCESS_KEY_ID,
            access_key_secret=fake_aliyun.ACCESS_KEY_SECRET,
            endpoint=endpoint,
            protocol="http",
        )
        self.client = Client(config)

    async def __call__(self, message: Seen) -> None:
        from alibabacloud_dysmsapi20170525 import models
        from darabonba.runtime import RuntimeOptions

        sign, template, params = message.message
        request = models.SendSmsRequest(
            phone_numbers=message.to[3:], sign_name=sign, template_code=template, template_param=params
        )
        response = await self.client.send_sms_with_options_async(request, RuntimeOptions(autoretry=False))
        if response.body.code != "OK":
            raise RuntimeError(f"the fake Aliyun refused the baseline: {response.body.code}")

    async def close(self) -> None:
        return None


class BareTencent:
    """tencentcloud's async SmsClient, as Tencent's samples use it."""

    def __init__(self, endpoint: str) -> None:
        from tencentcloud.common.credential import Credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client_async import SmsClient

        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint))
        credential = Credential(fake_tencent.SECRET_ID, fake_tencent.SECRET_KEY)
        self.client = SmsClient(credential, fake_tencent.REGION, profile)

    async def __call__(self, message: Seen) -> None:
        from tencentcloud.sms.v20210111 import models

        template, *params = message.message
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.to]
        request.SmsSdkAppId = fake_tencent.SMS_APP_ID
        request.SignName = fake_tencent.SIGN_NAME
        request.TemplateId = template
        request.TemplateParamSet = params
        answer = await self.client.SendSms(request)
        codes = [status.Code for status in answer.SendStatusSet or []]
        if codes != ["Ok"]:
            raise RuntimeError(f"the fake Tencent refused the baseline: {codes}")

    async def close(self) -> None:
        await self.client.close()


BARE: dict[str, type[BareTwilio | BareAliyun | BareTencent]] = {
    "twilio": BareTwilio,
    "aliyun": BareAliyun,
    "tencent": BareTencent,
}


@contextlib.asynccontextmanager
async def fresh_database(db: str, tmp: str):  # type: ignore[no-untyped-def]
    """A temporary SQLite file, or a database of its own on the given PostgreSQL server (dropped afterwards)."""
    if db == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    name = f"carevisit_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(db, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(db).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the faults' warnings, one a row, are not the figures
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pager", choices=PAGERS, default="twilio", help="the provider paged (default twilio)")
    parser.add_argument("--rows", type=int, default=200, help="incidents opened at once (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median run is shown")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite (a temporary file) or a postgresql+asyncpg server URL (a fresh database)"
    )
    parser.add_argument("--processes", type=int, default=1, help="service processes sharing the database")
    parser.add_argument("--faults", action="store_true", help="10%% of sends answered 5xx, 5%% time out accepted")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        await child_main(args)
        return
    if args.processes > 1 and args.db == "sqlite":
        parser.error("--processes needs PostgreSQL (--db postgresql+asyncpg://…)")
    ours_p50, ours_p99, base_p50, base_p99 = [], [], [], []
    lost = duplicates = limited_sms = limited_calls = 0
    faults: Counter[str] = Counter()
    shares: list[list[int]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_database(args.db, tmp) as url:
                run, sent = await ours(url, args.rows, pager=args.pager, processes=args.processes, faults=args.faults)
        lost += run.lost
        duplicates += run.duplicates
        limited_sms += run.limited_sms
        limited_calls += run.limited_calls
        faults += run.faults
        shares.append(sorted(run.senders.values(), reverse=True))
        base = await baseline(args.pager, sent)
        ours_p50.append(statistics.median(run.times))
        ours_p99.append(percentile(run.times, 0.99))
        base_p50.append(statistics.median(base))
        base_p99.append(percentile(base, 0.99))
    o50, o99 = statistics.median(ours_p50), statistics.median(ours_p99)
    b50, b99 = statistics.median(base_p50), statistics.median(base_p99)
    where = "sqlite" if args.db == "sqlite" else "postgresql"
    plural = "es" if args.processes > 1 else ""
    fake = FAKES[args.pager]
    print(
        f"{args.rows} incidents opened at once ({where}, {args.processes} service process{plural}); "
        f"time until each one's first SMS reaches the fake {fake.name}"
    )
    ours_label = f"carevisit, escalation loops + {fake.label}:"
    base_label = f"baseline, {fake.baseline_label}:"
    width = max(len(ours_label), len(base_label)) + 1
    print(f"  {ours_label.ljust(width)}p50 {ms(o50)}  p99 {ms(o99)}")
    print(f"  {base_label.ljust(width)}p50 {ms(b50)}  p99 {ms(b99)}   (no faults)")
    print(f"  ratio: p50 {o50 / b50:.1f}x  p99 {o99 / b99:.1f}x   (median of {args.repeat} runs each)")
    if args.faults:
        t = FAULT_TIMING
        print(
            f"  faults injected over {args.repeat} runs (SMS and calls): "
            + f"{faults['500']} answered {FIVE_XX[args.pager]} (not sent), "
            + f"{faults['timeout']} accepted but answered too late"
        )
        lag = {
            "twilio": f"the fake's lists lag {FAKE_LIST_LAG.total_seconds()} s",
            "aliyun": "the fake's QuerySendDetails knows a send at once",
            "tencent": f"the fake's per-number status pull knows a send {FAKE_LIST_LAG.total_seconds()} s after it "
            "and the pager waits that long before 'no trace' (production: 2 min)",
        }[args.pager]
        print(
            f"  client timeout {t.client_timeout} s; uncertain rows asked about after {t.check_after} s, 'no trace' "
            f"trusted {t.settle} s after the attempt, loops idle {t.idle} s (production: 15 s, 10 s, 30 s, 1 s); "
            f"{lag}"
        )
    if args.processes > 1:
        print(
            f"  pages (SMS and calls) sent by each process, per run: {' '.join('/'.join(map(str, s)) for s in shares)}"
        )
    if args.pager != "twilio":
        why = " (placed again after a lost answer: no call list to find them by)" if limited_calls else ""
        print(
            f"  refused by the fake's frequency limits over {args.repeat} runs: {limited_sms} SMS, "
            f"{limited_calls} calls{why}"
        )
    print(f"  lost {lost}, duplicates {duplicates}")
    if lost or duplicates or limited_sms:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
