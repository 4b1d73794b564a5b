"""The monthly report page's queries for N elders with a year of visits, beside the bare SQL aggregate.

    python bench/bench_report.py                  # 20,000 elders, a quick run
    python bench/bench_report.py --elders 1000000

It builds a migrated SQLite file as `bench_plan.py` does (N elders, 100 per community, one volunteer per 12) with
twelve months of visits (one a month per elder, 80% done), then times, for the whole programme:
  1. carevisit: `reports.month_page.month_page` — the page's figures: by area and organisation, the twelve-month
     chart, not visited by reason — cold (the chart's closed months counted) and warm (they are kept);
  2. the CSV download by volunteer (`monthly_report` + `to_csv`);
  3. baseline: the bare aggregate of the month (eligible elders with a completed visit) in plain sqlite3.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_plan import build

MONTH = "2026-03"
ZONE = ZoneInfo("Asia/Shanghai")
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
NOW = "2026-02-20 00:00:00.000000"


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


async def timed(path: Path) -> dict[str, float]:
    from carevisit.care.clock import FakeClock
    from carevisit.reports.export import to_csv
    from carevisit.reports.history import ClosedMonths
    from carevisit.reports.month_page import month_page
    from carevisit.reports.monthly import ReportBy, monthly_report
    from carevisit.storage.db import make_engine, make_session_factory
    from carevisit.storage.models import Area

    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    clock = FakeClock(datetime(2026, 3, 20, 10, 0, tzinfo=ZONE))
    closed = ClosedMonths()
    results: dict[str, float] = {}
    async with make_session_factory(engine)() as session:
        root = await session.get(Area, 1)
        assert root is not None
        for name in ("page, cold", "page, warm"):
            started = time.perf_counter()
            await month_page(session, month=MONTH, area=root, zone=ZONE, clock=clock, closed=closed)
            results[name] = time.perf_counter() - started
        started = time.perf_counter()
        to_csv(await monthly_report(session, month=MONTH, area=root, by=ReportBy.VOLUNTEER, zone=ZONE))
        results["CSV by volunteer"] = time.perf_counter() - started
    await engine.dispose()
    return results


def baseline(path: Path) -> float:
    db = sqlite3.connect(path)
    started = time.perf_counter()
    db.execute(
        "SELECT count(*) FROM elders WHERE status = 'active' AND consent = 1 AND id IN"
        " (SELECT elder_id FROM visits WHERE month = ? AND status = 'done')",
        (MONTH,),
    ).fetchone()
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elders", type=int, default=20_000, help="number of elders (default 20,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        started = time.perf_counter()
        build(path, args.elders)
        add_visits(path, args.elders)
        print(f"built {args.elders:,} elders, {args.elders * len(MONTHS):,} visits in "
              f"{time.perf_counter() - started:.1f} s (not timed below)")  # fmt: skip
        results = asyncio.run(timed(path))
        results["bare SQL: the month's rate"] = baseline(path)
    for name, seconds in results.items():
        print(f"{name:32}{seconds:>8.2f} s")


if __name__ == "__main__":
    main()
