"""The monthly report page's queries for N elders with a year of visits, beside the bare SQL aggregate.

    python bench/bench_report.py                  # 20,000 elders on SQLite, a quick run
    python bench/bench_report.py --elders 1000000 --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

It builds a migrated database (a temporary SQLite file, or with --postgres a fresh database `bench_report` on that
server, seeded in SQL with generate_series) as `bench_plan.py` does: N elders, 100 per community, one volunteer per
12, twelve months of visits (one a month per elder, 80% done). Then it times, for the whole programme, each step
--runs times (the first run of the page is cold: the chart's closed months are counted; later ones warm):
  1. carevisit: `reports.month_page.month_page` — the page's figures: by area and organisation, the twelve-month
     chart, not visited by reason;
  2. the CSV download by volunteer (`monthly_report` + `to_csv`);
  3. baseline: the bare aggregate of the month (eligible elders with a completed visit) in plain SQL, same run;
and prints each figure (median and worst of the runs), the baseline, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import build
from sqlalchemy.engine import make_url

MONTH = "2026-03"
ZONE = ZoneInfo("Asia/Shanghai")
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
NOW = "2026-02-20 00:00:00.000000"
BASELINE = (
    "SELECT count(*) FROM elders WHERE status = 'active' AND consent AND id IN"
    " (SELECT elder_id FROM visits WHERE month = '2026-03' AND status = 'done')"
)


def add_visits(path: Path, elders: int) -> None:
    volunteers = max(1, elders // 12)
    db = sqlite3.connect(path)
    with db:
        for index, month in enumerate(MONTHS):
            db.executemany(
                "INSERT INTO visits (elder_id, month, slot, kind, mode, window_start, window_end, status,"
                " volunteer_id, done_at, done_by_volunteer_id, created_at, updated_at)"
                " VALUES (?, ?, 1, 'planned', 'home', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        e, month, f"{month}-01", f"{month}-28", "done" if (e + index) % 10 < 8 else "planned",
                        e % volunteers + 1, f"{month}-10 02:00:00.000000" if (e + index) % 10 < 8 else None,
                        e % volunteers + 1 if (e + index) % 10 < 8 else None, NOW, NOW,
                    )
                    for e in range(1, elders + 1)
                ),
            )  # fmt: skip
    db.execute("ANALYZE")
    db.close()


def _seed_sql(elders: int) -> list[str]:
    """The same rows as `build` and `add_visits`, made by the server itself (a million elders in about a minute)."""
    communities, volunteers = max(1, elders // 100), max(1, elders // 12)
    months = ", ".join(f"('{month}', {index})" for index, month in enumerate(MONTHS))
    return [
        "INSERT INTO areas (id, code, name, level, parent_id, path)"
        " VALUES (1, '44', '广东省', 'province', NULL, '/44/')",
        "INSERT INTO areas (id, code, name, level, parent_id, path)"
        f" SELECT c + 2, 'C' || c, '社区' || c, 'community', 1, '/44/C' || c || '/'"
        f" FROM generate_series(0, {communities - 1}) c",
        "INSERT INTO volunteers (id, external_id, name, kind, capacity, active, created_at, updated_at)"
        f" SELECT v + 1, 'V' || v, '志愿者' || v, 'volunteer', 24, true, '{NOW}+00', '{NOW}+00'"
        f" FROM generate_series(0, {volunteers - 1}) v",
        "INSERT INTO volunteer_communities (volunteer_id, area_id)"
        f" SELECT v + 1, v % {communities} + 2 FROM generate_series(0, {volunteers - 1}) v",
        "INSERT INTO elders (id, external_id, name, gender, address, community_id, classes, risk, consent, status,"
        " enrolled_on, notes, created_at, updated_at)"
        f" SELECT e + 1, 'E' || e, '老人' || e, 'unknown', '', e % {communities} + 2,"
        " CASE WHEN e % 7 = 0 THEN 9 ELSE 1 END,"
        " (ARRAY['high','medium','medium','medium','low','low','low','low','low','low'])[e % 10 + 1],"
        f" true, 'active', '2025-01-01', '', '{NOW}+00', '{NOW}+00' FROM generate_series(0, {elders - 1}) e",
        "INSERT INTO visits (elder_id, month, slot, kind, mode, window_start, window_end, status, volunteer_id,"
        " done_at, done_by_volunteer_id, created_at, updated_at)"
        " SELECT e, m.month, 1, 'planned', 'home', (m.month || '-01')::date, (m.month || '-28')::date,"
        " CASE WHEN (e + m.index) % 10 < 8 THEN 'done' ELSE 'planned' END,"
        f" e % {volunteers} + 1,"
        " CASE WHEN (e + m.index) % 10 < 8 THEN (m.month || '-10 02:00:00+00')::timestamptz END,"
        f" CASE WHEN (e + m.index) % 10 < 8 THEN e % {volunteers} + 1 END, '{NOW}+00', '{NOW}+00'"
        f" FROM (VALUES {months}) AS m(month, index), generate_series(1, {elders}) e ORDER BY m.index, e",
        "SELECT setval(pg_get_serial_sequence('visits', 'id'), (SELECT max(id) FROM visits))",
        "ANALYZE",
    ]


def bench_url(server_url: str, elders: int) -> str:
    return make_url(server_url).set(database=f"bench_report_{elders}").render_as_string(hide_password=False)


async def build_postgres(server_url: str, elders: int) -> str:
    """A fresh migrated database `bench_report_N` on the server of `server_url`, seeded; its URL."""
    from sqlalchemy import text

    from carevisit.storage import schema
    from carevisit.storage.db import make_engine

    url = bench_url(server_url, elders)
    name = make_url(url).database
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        await connection.execute(text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    engine = make_engine(url)
    await schema.upgrade(engine)
    async with engine.begin() as connection:
        for statement in _seed_sql(elders):
            await connection.execute(text(statement))
    async with make_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
        await connection.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return url


async def _repeat(runs: int, step: Callable[[], Awaitable[object]]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await step()
        times.append(time.perf_counter() - started)
    return times


async def timed(url: str, runs: int) -> dict[str, list[float]]:
    from sqlalchemy import text

    from carevisit.care.clock import FakeClock
    from carevisit.reports.export import to_csv
    from carevisit.reports.history import ClosedMonths
    from carevisit.reports.month_page import month_page
    from carevisit.reports.monthly import ReportBy, monthly_report
    from carevisit.storage.db import make_engine, make_session_factory
    from carevisit.storage.models import Area

    engine = make_engine(url)
    clock = FakeClock(datetime(2026, 3, 20, 10, 0, tzinfo=ZONE))
    closed = ClosedMonths()
    async with make_session_factory(engine)() as session:
        root = await session.get(Area, 1)
        assert root is not None

        async def page() -> object:
            return await month_page(session, month=MONTH, area=root, zone=ZONE, clock=clock, closed=closed)

        async def download() -> object:
            return to_csv(await monthly_report(session, month=MONTH, area=root, by=ReportBy.VOLUNTEER, zone=ZONE))

        async def bare() -> object:
            return (await session.exec(text(BASELINE))).one()  # type: ignore[call-overload]

        cold = await _repeat(1, page)
        results = {
            "page, cold": cold,
            "page, warm": await _repeat(runs, page),
            "CSV by volunteer": await _repeat(runs, download),
            "bare SQL: the month's rate": await _repeat(runs, bare),
        }
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elders", type=int, default=20_000, help="number of elders (default 20,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each warm step (default 5)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (asyncpg URL) to bench on instead")
    parser.add_argument("--reuse", action="store_true", help="with --postgres: time the database the last run built")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        if args.postgres and args.reuse:
            url = bench_url(args.postgres, args.elders)
        elif args.postgres:
            url = asyncio.run(build_postgres(args.postgres, args.elders))
        else:
            path = Path(directory) / "bench.db"
            build(path, args.elders)
            add_visits(path, args.elders)
            url = f"sqlite+aiosqlite:///{path}"
        built = "reused" if args.reuse else f"built in {time.perf_counter() - started:.1f} s (not timed below)"
        print(f"{args.elders:,} elders, {args.elders * len(MONTHS):,} visits: {built}")
        results = asyncio.run(timed(url, args.runs))
    base = statistics.median(results["bare SQL: the month's rate"])
    print(f"{'':28}{'median':>9}{'worst':>9}{'× baseline':>12}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:28}{median:>8.2f}s{max(times):>8.2f}s{median / base:>11.1f}×")


if __name__ == "__main__":
    main()
