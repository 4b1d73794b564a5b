"""Escalation latency: N incidents opened at once → the time until each one's first SMS request reaches a fake
Twilio server, through the real path (the escalation loops: engine cycle → outbox rows → worker → twilio async
client → HTTP), in this process or in several service processes sharing one PostgreSQL database.

Baseline, same run, same server: the bare twilio async client sending N SMS with the same total concurrency.
Also checks that nothing is lost and nothing sent twice — with `--faults`, while the fake answers 10% of creates
with a 500 (not sent) and accepts 5% but answers only after the client's timeout.

Usage: python bench/bench_escalation.py [--rows N] [--db sqlite|URL] [--processes N] [--faults]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
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
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import AreaLevel, DeliveryStatus, PhoneKind
from carevisit.storage.models import Area, Elder, EmergencyContact, OutboxMessage
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio, RandomFaults

CONCURRENCY = 20  # provider requests at once, in total (split between processes)
POLL = 0.02  # how often the benchmark looks at the fake (the times are stamped by the fake itself)
IDLE = 1.0  # the loops' idle interval, as in the service; the benchmark nudges them when it opens incidents
UNSETTLED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)


@dataclass(frozen=True)
class Timing:
    """The worker's timings: production's by default; with faults, short enough for a benchmark (and an idle
    interval to match, as the loops poll for rows coming due for a check)."""

    client_timeout: float = 15.0
    check_after: float = 10.0
    settle: float = 30.0
    idle: float = IDLE

    def worker(self, esc: Escalation, concurrency: int) -> OutboxWorker:
        return OutboxWorker(
            esc,
            concurrency=concurrency,
            check_after=timedelta(seconds=self.check_after),
            settle=timedelta(seconds=self.settle),
        )


FAULT_TIMING = Timing(client_timeout=0.5, check_after=0.2, settle=0.8, idle=0.05)
FAKE_LIST_LAG = timedelta(seconds=0.4)  # Twilio's lists lag a create: less than `settle`
FAULT_HANG = 1.0  # an accepted create answered after this, past the client's timeout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def seed(sessions, clock, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        area = Area(code="1", name="社区", level=AreaLevel.COMMUNITY, path="/1/")
        session.add(area)
        await session.flush()
        now = clock.now()
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
        return [e.id for e in elders if e.id is not None]


def make_escalation(engine: AsyncEngine, api_base: str, timing: Timing) -> Escalation:
    pager = TwilioPager(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        api_base=api_base,
        timeout=timing.client_timeout,
    )
    return Escalation(
        sessions=make_session_factory(engine),
        clock=SystemClock(),
        pager=pager,
        config=EscalationConfig(),
        secret=b"bench",
        public_url="http://127.0.0.1:9",
    )


async def open_incidents(sessions, esc_policy, elder_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        for elder_id in elder_ids:
            await incidents.open_incident(
                session, clock=SystemClock(), policy=esc_policy, elder_id=elder_id, kind="fall"
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

    def __init__(self, url: str, api_base: str, timing: Timing, processes: int) -> None:
        self.url, self.api_base, self.timing, self.processes = url, api_base, timing, processes
        self._children: list[asyncio.subprocess.Process] = []
        self._local: tuple[asyncio.Task[None], Escalation, AsyncEngine, EscalationLoops] | None = None

    async def start(self) -> None:
        concurrency = max(1, CONCURRENCY // self.processes)
        if self.processes == 1:
            engine = make_engine(self.url)
            esc = make_escalation(engine, self.api_base, self.timing)
            loops = EscalationLoops(esc, self.timing.worker(esc, concurrency), interval=self.timing.idle)
            self._local = (asyncio.create_task(loops.run()), esc, engine, loops)
            return
        for _ in range(self.processes):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--child",
                "--db",
                self.url,
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
            task, esc, engine, _ = self._local
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await esc.pager.close()
            await engine.dispose()
        for child in self._children:
            assert child.stdin is not None
            child.stdin.close()
            await child.wait()


async def child_main(args: argparse.Namespace) -> None:
    """A service process: the escalation loops until the parent closes our stdin."""
    timing = FAULT_TIMING if args.faults else Timing()
    engine = make_engine(args.db)
    esc = make_escalation(engine, args.api, timing)
    loops = EscalationLoops(esc, timing.worker(esc, args.concurrency), interval=timing.idle)
    runner = asyncio.create_task(loops.run())
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):  # "go": incidents were opened; EOF: stop
        loops.nudge()
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    await esc.pager.close()
    await engine.dispose()


@dataclass
class Result:
    times: list[float]
    lost: int
    duplicates: int
    faults: Counter[str]
    senders: Counter[str]  # pages sent by each service process (its worker id)


async def ours(url: str, n: int, *, processes: int, faults: bool) -> Result:
    clock = SystemClock()
    engine = make_engine(url)
    await schema.upgrade(engine)
    sessions = make_session_factory(engine)
    warm = 50 * processes  # enough that every process steps and sends some, untimed
    elder_ids = await seed(sessions, clock, n + warm)
    warm_ids, elder_ids = elder_ids[:warm], elder_ids[warm:]
    twilio = FakeTwilio(clock, list_lag=FAKE_LIST_LAG if faults else timedelta(seconds=5))
    api_base = await twilio.start()
    timing = FAULT_TIMING if faults else Timing()
    services = Services(url, api_base, timing, processes)
    await services.start()
    policy = EscalationConfig().policy
    loop = asyncio.get_running_loop()
    try:
        # Warm up (SQL statement caches, connections) through the same path.
        before = await last_outbox_id(sessions)
        await open_incidents(sessions, policy, warm_ids)
        await services.nudge()
        while not await settled(sessions, before):  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.01)
        twilio.records.clear()
        twilio.first_request_at.clear()
        twilio.faults = RandomFaults(error_rate=0.10, timeout_rate=0.05, hang=FAULT_HANG) if faults else None

        before = await last_outbox_id(sessions)
        await open_incidents(sessions, policy, elder_ids)
        opened = loop.time()
        await services.nudge()
        deadline = opened + 120
        # Watch the fake (in memory) while the first SMS go out, then the database until every page is settled:
        # anything extra (a duplicate) would have reached the fake by then.
        while len({r.to for r in twilio.records if r.kind == "sms"}) < n and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL)
        while not await settled(sessions, before) and loop.time() < deadline:  # noqa: ASYNC110 - polling
            await asyncio.sleep(0.05)
    finally:
        await services.stop()
        await twilio.close()
    first: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for record, at in zip(twilio.records, twilio.first_request_at, strict=True):
        if record.kind == "sms":
            counts[record.to] += 1
            first.setdefault(record.to, at - opened)
    expected = {f"+86139{i + warm:08d}" for i in range(n)}
    async with sessions() as session:
        owners = await session.exec(
            select(OutboxMessage.lease_owner).where(col(OutboxMessage.id) > before, OutboxMessage.purpose == "page")
        )
        senders = Counter(str(owner) for owner in owners.all())
    await engine.dispose()
    return Result(
        senders=senders,
        times=[first[number] for number in expected if number in first],
        lost=len(expected - set(first)),
        duplicates=sum(c - 1 for c in counts.values() if c > 1),
        faults=twilio.faults.injected if twilio.faults else Counter(),
    )


async def baseline(n: int) -> list[float]:
    clock = SystemClock()
    twilio = FakeTwilio(clock)
    base = await twilio.start()
    pager = TwilioPager(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=base)
    slots = asyncio.Semaphore(CONCURRENCY)
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        async with slots:
            await pager.send_sms(to=f"+86139{i:08d}", notice=Notice("text", {}, "bench"), callbacks=Callbacks())

    await asyncio.gather(*(one(i) for i in range(5)))  # a warm-up, as ours has
    twilio.first_request_at.clear()
    start = loop.time()
    await asyncio.gather(*(one(i) for i in range(n)))
    times = [t - start for t in twilio.first_request_at]
    await pager.close()
    await twilio.close()
    return times


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
    parser.add_argument("--rows", type=int, default=200, help="incidents opened at once (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median run is shown")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite (a temporary file) or a postgresql+asyncpg server URL (a fresh database)"
    )
    parser.add_argument("--processes", type=int, default=1, help="service processes sharing the database")
    parser.add_argument("--faults", action="store_true", help="10%% of creates answered 500, 5%% time out accepted")
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
    lost = duplicates = 0
    faults: Counter[str] = Counter()
    shares: list[list[int]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_database(args.db, tmp) as url:
                run = await ours(url, args.rows, processes=args.processes, faults=args.faults)
        lost += run.lost
        duplicates += run.duplicates
        faults += run.faults
        shares.append(sorted(run.senders.values(), reverse=True))
        base = await baseline(args.rows)
        ours_p50.append(statistics.median(run.times))
        ours_p99.append(percentile(run.times, 0.99))
        base_p50.append(statistics.median(base))
        base_p99.append(percentile(base, 0.99))
    o50, o99 = statistics.median(ours_p50), statistics.median(ours_p99)
    b50, b99 = statistics.median(base_p50), statistics.median(base_p99)
    where = "sqlite" if args.db == "sqlite" else "postgresql"
    plural = "es" if args.processes > 1 else ""
    print(
        f"{args.rows} incidents opened at once ({where}, {args.processes} service process{plural}); "
        "time until each one's first SMS reaches the fake Twilio"
    )
    print(f"  carevisit, escalation loops + twilio client: p50 {ms(o50)}  p99 {ms(o99)}")
    print(f"  baseline, bare twilio client, same server:   p50 {ms(b50)}  p99 {ms(b99)}   (no faults)")
    print(f"  ratio: p50 {o50 / b50:.1f}x  p99 {o99 / b99:.1f}x   (median of {args.repeat} runs each)")
    if args.faults:
        t = FAULT_TIMING
        print(
            f"  faults injected over {args.repeat} runs (SMS and calls): "
            + f"{faults['500']} answered 500 (not sent), {faults['timeout']} accepted but answered too late"
        )
        print(
            f"  client timeout {t.client_timeout} s; uncertain rows asked about after {t.check_after} s, 'no trace' "
            f"trusted {t.settle} s after the attempt, loops idle {t.idle} s (production: 15 s, 10 s, 30 s, 1 s); "
            f"the fake's lists lag {FAKE_LIST_LAG.total_seconds()} s"
        )
    if args.processes > 1:
        print(
            f"  pages (SMS and calls) sent by each process, per run: {' '.join('/'.join(map(str, s)) for s in shares)}"
        )
    print(f"  lost {lost}, duplicates {duplicates}")
    if lost or duplicates:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
