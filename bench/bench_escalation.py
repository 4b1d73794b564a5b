"""Escalation latency: N incidents opened at once → the time until each one's first SMS request reaches a fake
Twilio server, through the real path (engine cycle → outbox rows → worker → twilio async client → HTTP).

Baseline, same run, same server: the bare twilio async client sending N SMS with the same concurrency.
Also checks zero lost and zero duplicate sends. Usage: python bench/bench_escalation.py [--rows N] [--db sqlite|URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import make_url

from carevisit.care.clock import SystemClock
from carevisit.escalation import incidents
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import AreaLevel, PhoneKind
from carevisit.storage.models import Area, Elder, EmergencyContact
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio

CONCURRENCY = 20


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


async def ours(url: str, n: int) -> tuple[list[float], int, int]:
    clock = SystemClock()
    engine = make_engine(url)
    await schema.upgrade(engine)
    sessions = make_session_factory(engine)
    elder_ids = await seed(sessions, clock, n + 5)
    twilio = FakeTwilio(clock)
    base = await twilio.start()
    pager = TwilioPager(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=base)
    esc = Escalation(
        sessions=sessions,
        clock=clock,
        pager=pager,
        config=EscalationConfig(),
        secret=b"bench",
        public_url="http://127.0.0.1:9",
    )
    worker = OutboxWorker(esc, concurrency=CONCURRENCY)
    loop = asyncio.get_running_loop()

    async def service_loop() -> None:  # what the part does, without the idle sleep between cycles
        while True:
            await run_cycle(esc)
            if not await worker.run_once():
                await asyncio.sleep(0.001)

    # Warm up (SQL statement caches, connections) with a few incidents through the same path, untimed.
    warm, elder_ids = elder_ids[:5], elder_ids[5:]
    async with sessions() as session:
        for elder_id in warm:
            await incidents.open_incident(
                session, clock=clock, policy=esc.config.policy, elder_id=elder_id, kind="fall"
            )
        await session.commit()
    await run_cycle(esc)
    await worker.drain()
    warm_records = len(twilio.records)
    twilio.records.clear()
    twilio.first_request_at.clear()
    assert warm_records == 2 * len(warm)

    async with sessions() as session:
        for elder_id in elder_ids:
            await incidents.open_incident(
                session, clock=clock, policy=esc.config.policy, elder_id=elder_id, kind="fall"
            )
        await session.commit()
    opened = loop.time()
    runner = asyncio.create_task(service_loop())
    while len([r for r in twilio.records if r.kind == "sms"]) < n:  # noqa: ASYNC110 - polling the fake server
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.2)  # anything extra (a duplicate) would arrive now
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    sms = [r for r in twilio.records if r.kind == "sms"]
    times = [t - opened for r, t in zip(twilio.records, twilio.first_request_at, strict=True) if r.kind == "sms"]
    numbers = [r.to for r in sms]
    lost = n - len(set(numbers))
    duplicates = len(numbers) - len(set(numbers))
    await pager.close()
    await twilio.close()
    await engine.dispose()
    return times, lost, duplicates


async def baseline(n: int) -> list[float]:
    clock = SystemClock()
    twilio = FakeTwilio(clock)
    base = await twilio.start()
    pager = TwilioPager(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=base)
    slots = asyncio.Semaphore(CONCURRENCY)
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        async with slots:
            await pager.send_sms(to=f"+86139{i:08d}", body="bench", status_callback=None)

    await asyncio.gather(*(one(i) for i in range(5)))  # the same warm-up as ours
    twilio.first_request_at.clear()
    start = loop.time()
    await asyncio.gather(*(one(i) for i in range(n)))
    times = [t - start for t in twilio.first_request_at]
    await pager.close()
    await twilio.close()
    return times


@contextlib.asynccontextmanager
async def fresh_postgres(server_url: str):  # type: ignore[no-untyped-def]
    """A database of its own on the given PostgreSQL server, dropped afterwards."""
    name = f"carevisit_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200, help="incidents opened at once (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the median run is shown")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite (a temporary file) or a postgresql+asyncpg server URL (a fresh database)"
    )
    args = parser.parse_args()
    ours_p50, ours_p99, base_p50, base_p99 = [], [], [], []
    lost = duplicates = 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            if args.db == "sqlite":
                mine, run_lost, run_duplicates = await ours(f"sqlite+aiosqlite:///{tmp}/bench.db", args.rows)
            else:
                async with fresh_postgres(args.db) as url:
                    mine, run_lost, run_duplicates = await ours(url, args.rows)
        lost += run_lost
        duplicates += run_duplicates
        base = await baseline(args.rows)
        ours_p50.append(statistics.median(mine))
        ours_p99.append(percentile(mine, 0.99))
        base_p50.append(statistics.median(base))
        base_p99.append(percentile(base, 0.99))
    o50, o99 = statistics.median(ours_p50), statistics.median(ours_p99)
    b50, b99 = statistics.median(base_p50), statistics.median(base_p99)
    print(f"{args.rows} incidents opened at once ({args.db}); time until each one's first SMS reaches the fake Twilio")
    print(f"  carevisit, engine + outbox + twilio client: p50 {ms(o50)}  p99 {ms(o99)}")
    print(f"  baseline, bare twilio client, same server:  p50 {ms(b50)}  p99 {ms(b99)}")
    print(f"  ratio: p50 {o50 / b50:.1f}x  p99 {o99 / b99:.1f}x   (median of {args.repeat} runs each)")
    print(f"  lost {lost}, duplicates {duplicates}")
    if lost or duplicates:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
