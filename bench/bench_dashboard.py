"""Benchmark: the coordinator's overview and "not visited this month" for N elders, served over HTTP, against the
bare SQL aggregate of the visit rate timed in the same run on the same database.

    python bench/bench_dashboard.py                                  # 50,000 elders on SQLite: a quick run
    python bench/bench_dashboard.py --elders 1000000                 # the figure that matters
    python bench/bench_dashboard.py --elders 1000000 --db postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

It migrates a fresh database (a temporary SQLite file, or a database of its own on the PostgreSQL server, dropped
afterwards) and bulk-loads it: a city of districts > streets > communities of 300 elders (risk 10% high, 30%
medium; 2% without consent, 1% paused, 1% left), one volunteer per 12 elders, last month's visit for everyone
(95% done) and this month's plan as the default policy makes it (four, two or one visits), done up to "today"
(the 20th) at about nine in ten of the windows that have passed. Loading uses sqlite3.executemany or PostgreSQL
COPY; it is not timed as a figure.

Then the real dashboard (aiohttp TestServer, one signed-in city coordinator) serves `/` and `/not-visited` for the
whole city and for one district (`?area=D0`, 36,000 elders), `--requests` times each after two warm-ups, one
request at a time; each is timed from request sent
to body read. The baseline is the visit rate's two counts in one raw SQL statement over the same city, run as
many times on the same engine. It prints p50/p99 of each and the ratio to the baseline's p50.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from carevisit.care.clock import FakeClock
from carevisit.dashboard.accounts import hash_password
from carevisit.dashboard.app import add_dashboard
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.models import Coordinator

ZONE = ZoneInfo("Asia/Shanghai")
MONTH, LAST_MONTH = "2026-03", "2026-02"
TODAY = date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=ZONE)
ELDERS_PER_COMMUNITY = 300
COMMUNITIES_PER_STREET = 12
STREETS_PER_DISTRICT = 10
VOLUNTEERS_PER_COMMUNITY = ELDERS_PER_COMMUNITY // 12
CITY_CODE = "4403"
PASSWORD = "bench password"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
RISKS = ["high"] + ["medium"] * 3 + ["low"] * 6

ELDER_COLUMNS = (
    "id", "external_id", "name", "gender", "address", "village_group", "community_id", "classes", "programmes",
    "risk", "consent", "status", "enrolled_on", "notes", "created_at", "updated_at",
)  # fmt: skip
VISIT_COLUMNS = (
    "elder_id", "month", "slot", "kind", "mode", "window_start", "window_end", "status", "volunteer_id", "done_at",
    "done_mode", "done_by_volunteer_id", "outcome", "created_at", "updated_at",
)  # fmt: skip
AREA_COLUMNS = ("id", "code", "name", "level", "parent_id", "path")
VOLUNTEER_COLUMNS = ("id", "external_id", "name", "kind", "capacity", "active", "created_at", "updated_at")


def areas(elders: int) -> Iterator[tuple[Any, ...]]:
    """A province and a city, then districts > streets > communities enough for `elders`; community n has id
    n + COMMUNITY_BASE."""
    communities = -(-elders // ELDERS_PER_COMMUNITY)
    streets = -(-communities // COMMUNITIES_PER_STREET)
    districts = -(-streets // STREETS_PER_DISTRICT)
    yield (1, "44", "广东省", "province", None, "/44/")
    yield (2, CITY_CODE, "深圳市", "city", 1, f"/44/{CITY_CODE}/")
    for d in range(districts):
        yield (3 + d, f"D{d}", f"第{d}区", "district", 2, f"/44/{CITY_CODE}/D{d}/")
    street_base = 3 + districts
    for s in range(streets):
        d = s // STREETS_PER_DISTRICT
        yield (street_base + s, f"S{s}", f"第{s}街道", "street", 3 + d, f"/44/{CITY_CODE}/D{d}/S{s}/")
    community_base = street_base + streets
    for c in range(communities):
        s = c // COMMUNITIES_PER_STREET
        d = s // STREETS_PER_DISTRICT
        path = f"/44/{CITY_CODE}/D{d}/S{s}/C{c}/"
        yield (community_base + c, f"C{c}", f"第{c}社区", "community", street_base + s, path)


def community_base(elders: int) -> int:
    communities = -(-elders // ELDERS_PER_COMMUNITY)
    streets = -(-communities // COMMUNITIES_PER_STREET)
    return 3 + -(-streets // STREETS_PER_DISTRICT) + streets


def volunteers(elders: int) -> Iterator[tuple[Any, ...]]:
    communities = -(-elders // ELDERS_PER_COMMUNITY)
    for v in range(communities * VOLUNTEERS_PER_COMMUNITY):
        yield (v + 1, f"V{v}", f"志愿者{v}", "volunteer", 24, True, CREATED, CREATED)


def volunteer_communities(elders: int) -> Iterator[tuple[Any, ...]]:
    base = community_base(elders)
    for v in range(-(-elders // ELDERS_PER_COMMUNITY) * VOLUNTEERS_PER_COMMUNITY):
        yield (v + 1, base + v // VOLUNTEERS_PER_COMMUNITY)


def _status(e: int) -> tuple[str, bool]:
    if e % 50 == 7:
        return "active", False
    if e % 100 == 11:
        return "paused", True
    if e % 100 == 13:
        return ("moved", "deceased", "withdrew")[e // 100 % 3], True
    return "active", True


def elders_rows(elders: int) -> Iterator[tuple[Any, ...]]:
    base = community_base(elders)
    for e in range(elders):
        status, consent = _status(e)
        classes = 1 | (8 if e % 7 == 0 else 0)
        yield (
            e + 1, f"E{e:07d}", f"老人{e}", "unknown", "", "", base + e // ELDERS_PER_COMMUNITY, classes, 0,
            RISKS[e % 10], consent, status, date(2025, 1, 1), "", CREATED, CREATED,
        )  # fmt: skip


def _windows(first: date, days: int, count: int) -> list[tuple[date, date]]:
    size = days // count
    return [
        (first + timedelta(days=i * size), first + timedelta(days=(days if i == count - 1 else (i + 1) * size) - 1))
        for i in range(count)
    ]


def visits_rows(elders: int, seed: int = 2026) -> Iterator[tuple[Any, ...]]:
    """Last month's visit and this month's plan for every eligible elder, done as the month went."""
    rng = random.Random(seed)
    plans = {"high": ("home", "phone", "home", "phone"), "medium": ("home", "phone")}
    for e in range(elders):
        status, consent = _status(e)
        if status != "active" or not consent:
            continue
        risk = RISKS[e % 10]
        modes = plans.get(risk) or (("home", "phone") if e % 7 == 0 else ("home",))
        volunteer = (e // ELDERS_PER_COMMUNITY) * VOLUNTEERS_PER_COMMUNITY + e % VOLUNTEERS_PER_COMMUNITY + 1
        done_on = date(2026, 2, 1) + timedelta(days=rng.randrange(28))
        last = rng.random() < 0.95
        at = datetime(done_on.year, done_on.month, done_on.day, 9, tzinfo=ZONE) if last else None
        yield (
            e + 1, LAST_MONTH, 1, "planned", "home", date(2026, 2, 1), date(2026, 2, 28),
            "done" if last else "missed", volunteer, at, "home" if last else None, volunteer if last else None,
            "well" if last else None, CREATED, CREATED,
        )  # fmt: skip
        assigned = volunteer if rng.random() > 0.03 else None
        for slot, (mode, (start, end)) in enumerate(
            zip(modes, _windows(date(2026, 3, 1), 31, len(modes)), strict=True), 1
        ):
            passed = end < TODAY
            current = start <= TODAY <= end
            done = assigned is not None and ((passed and rng.random() < 0.9) or (current and rng.random() < 0.4))
            day = start + timedelta(days=rng.randrange((min(end, TODAY) - start).days + 1)) if done else start
            at = datetime(day.year, day.month, day.day, 10, tzinfo=ZONE) if done else None
            yield (
                e + 1, MONTH, slot, "planned", mode, start, end, "done" if done else "planned", assigned, at,
                mode if done else None, assigned if done else None, "well" if done else None, CREATED, CREATED,
            )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load_sqlite(path: Path, elders: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        for table, columns, rows in tables(elders):
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            db.executemany(sql, (tuple(_sqlite_value(v) for v in row) for row in rows))
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


async def load_postgres(url: str, elders: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        for table, columns, rows in tables(elders):
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 200_000:
                    await connection.copy_records_to_table(table, records=batch, columns=columns)
                    batch = []
            if batch:
                await connection.copy_records_to_table(table, records=batch, columns=columns)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def tables(elders: int) -> list[tuple[str, tuple[str, ...], Iterator[tuple[Any, ...]]]]:
    return [
        ("areas", AREA_COLUMNS, areas(elders)),
        ("volunteers", VOLUNTEER_COLUMNS, volunteers(elders)),
        ("volunteer_communities", ("volunteer_id", "area_id"), volunteer_communities(elders)),
        ("elders", ELDER_COLUMNS, elders_rows(elders)),
        ("visits", VISIT_COLUMNS, visits_rows(elders)),
    ]


@contextlib.asynccontextmanager
async def fresh_database(db: str, tmp: str) -> AsyncIterator[str]:
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


async def add_coordinator(engine: AsyncEngine) -> None:
    async with make_session_factory(engine)() as session:
        session.add(
            Coordinator(
                name="市级协调员", username="city", password_hash=hash_password(PASSWORD), area_id=2, created_at=CREATED
            )
        )
        await session.commit()


# The city (the coordinator's own area, every elder) and one district of it, each with its bare baseline.
SCOPES = {"the city": ("", f"/44/{CITY_CODE}/%"), "district D0": ("?area=D0", f"/44/{CITY_CODE}/D0/%")}
# care.visit_rate's two counts, written by hand.
BARE_ELIGIBLE = """
SELECT COUNT(*) FROM elders
WHERE status = 'active' AND consent AND community_id IN (SELECT id FROM areas WHERE path LIKE :subtree)
"""
BARE_VISITED = (
    BARE_ELIGIBLE
    + """
  AND id IN (SELECT elder_id FROM visits WHERE month = :month AND status = 'done')
"""
)


async def time_bare(engine: AsyncEngine, subtree: str, requests: int) -> tuple[list[float], tuple[int, int]]:
    times: list[float] = []
    counts = (0, 0)
    values = {"month": MONTH, "subtree": subtree}
    async with engine.connect() as connection:
        for n in range(requests + 2):
            started = time.perf_counter()
            eligible = (await connection.execute(text(BARE_ELIGIBLE), values)).scalar_one()
            visited = (await connection.execute(text(BARE_VISITED), values)).scalar_one()
            if n >= 2:
                times.append(time.perf_counter() - started)
            counts = (int(eligible), int(visited))
    return times, counts


async def time_pages(engine: AsyncEngine, requests: int) -> dict[str, tuple[list[float], str]]:
    app = web.Application()
    add_dashboard(
        app,
        sessions=make_session_factory(engine),
        clock=FakeClock(NOW),
        zone=ZONE,
        language="zh_CN",
        secret=b"bench",
        secure_cookies=False,
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    results: dict[str, tuple[list[float], str]] = {}
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=jar) as client:
            login = await client.post("/login", data={"username": "city", "password": PASSWORD}, allow_redirects=False)
            assert login.status == 303, await login.text()
            for path in (page + query for query, _ in SCOPES.values() for page in ("/", "/not-visited")):
                times: list[float] = []
                body = ""
                for n in range(requests + 2):
                    started = time.perf_counter()
                    async with client.get(path) as response:
                        body = await response.text()
                        assert response.status == 200, body[:500]
                    if n >= 2:
                        times.append(time.perf_counter() - started)
                results[path] = (times, body)
    finally:
        await server.close()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elders", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests of each page (after 2 warm-ups)")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a postgresql+asyncpg server URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(args.db, tmp) as url:
            engine = make_engine(url)
            await schema.upgrade(engine)
            started = time.perf_counter()
            if engine.dialect.name == "sqlite":
                await engine.dispose()
                await asyncio.to_thread(load_sqlite, Path(make_url(url).database or ""), args.elders)
                engine = make_engine(url)
            else:
                await load_postgres(url, args.elders)
            loaded = time.perf_counter() - started
            await add_coordinator(engine)
            async with engine.connect() as connection:
                visits = (await connection.execute(text("SELECT COUNT(*) FROM visits"))).scalar_one()
            bare = {scope: await time_bare(engine, subtree, args.requests) for scope, (_, subtree) in SCOPES.items()}
            pages = await time_pages(engine, args.requests)
            await engine.dispose()
    eligible, visited = bare["the city"][1]
    print(
        f"{args.elders:,} elders, {visits:,} visits ({engine.dialect.name}; loaded in {loaded:.0f} s); the city's"
        f" rate {visited:,}/{eligible:,}; {args.requests} requests each, one at a time, after 2 warm-ups"
    )
    for scope, (query, _) in SCOPES.items():
        times, (eligible, _visited) = bare[scope]
        b50 = statistics.median(times)
        print(f"  {scope} ({eligible:,} eligible elders)")
        print(f"    baseline, visit_rate's two counts in raw SQL: p50 {ms(b50)}  p99 {ms(percentile(times, 0.99))}")
        for page in ("/", "/not-visited"):
            times = pages[page + query][0]
            p50, p99 = statistics.median(times), percentile(times, 0.99)
            print(f"    {page + query:<21} over HTTP:          p50 {ms(p50)}  p99 {ms(p99)}   {p50 / b50:.1f}x p50")
    more = pages["/not-visited"][1].split('id="more">', 1)
    if len(more) == 2:
        print(f"  /not-visited for the city: 200 rows, then {more[1].split('<', 1)[0]}")


if __name__ == "__main__":
    asyncio.run(main())
