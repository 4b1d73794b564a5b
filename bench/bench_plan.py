"""Monthly plan generation for N elders, against plain sqlite3.executemany of the same visit rows.

    python bench/bench_plan.py                 # 20,000 elders, a quick run
    python bench/bench_plan.py --elders 1000000

It builds a migrated SQLite file with N elders (100 per community; risk 10% high, 30% medium, 60% low; one
volunteer per 12 elders), then, each in a fresh child process so peak memory is its own:
  1. carevisit: `care.planning.generate_month` — load elders in batches, decide, assign, insert (commit per batch);
  2. baseline: the same visit rows (read back from 1) inserted with plain sqlite3.executemany, in one transaction,
     into the same table of a copy of the database taken before planning (same indexes, unique key, foreign keys);
     and once more with foreign keys unchecked, the barest insert SQLite can do.
It prints visits/s, wall time and peak RSS of each, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MONTH = "2026-03"
ZONE = ZoneInfo("Asia/Shanghai")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def build(path: Path, elders: int) -> None:
    from carevisit.storage import schema
    from carevisit.storage.db import make_engine

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        await schema.upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    communities = max(1, elders // 100)
    volunteers = max(1, elders // 12)
    now = "2026-02-20 00:00:00.000000"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    with db:
        db.execute(
            "INSERT INTO areas (id, code, name, level, parent_id, path)"
            " VALUES (1, '44', '广东省', 'province', NULL, '/44/')"
        )
        db.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id, path) VALUES (?, ?, ?, 'community', 1, ?)",
            ((c + 2, f"C{c}", f"社区{c}", f"/44/C{c}/") for c in range(communities)),
        )
        db.executemany(
            "INSERT INTO volunteers (id, external_id, name, kind, capacity, active, created_at, updated_at)"
            " VALUES (?, ?, ?, 'volunteer', 24, 1, ?, ?)",
            ((v + 1, f"V{v}", f"志愿者{v}", now, now) for v in range(volunteers)),
        )
        db.executemany(
            "INSERT INTO volunteer_communities (volunteer_id, area_id) VALUES (?, ?)",
            ((v + 1, v % communities + 2) for v in range(volunteers)),
        )
        risks = ["high"] + ["medium"] * 3 + ["low"] * 6
        db.executemany(
            "INSERT INTO elders (id, external_id, name, gender, address, community_id, classes, risk, consent, status,"
            " enrolled_on, notes, created_at, updated_at)"
            " VALUES (?, ?, ?, 'unknown', '', ?, ?, ?, 1, 'active', '2025-01-01', '', ?, ?)",
            (
                (e + 1, f"E{e}", f"老人{e}", e % communities + 2, 1 | (8 if e % 7 == 0 else 0), risks[e % 10], now, now)
                for e in range(elders)
            ),
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def child_plan(path: Path) -> dict[str, float]:
    from carevisit.care.clock import FakeClock
    from carevisit.policies import visit_policy
    from carevisit.scheduler.planning import generate_month
    from carevisit.storage.db import make_engine, make_session_factory

    async def run() -> tuple[float, int]:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        clock = FakeClock(datetime(2026, 3, 1, 1, 0, tzinfo=ZONE))
        started = time.perf_counter()
        summary = await generate_month(
            make_session_factory(engine), clock=clock, zone=ZONE, policy=visit_policy(None), month=MONTH
        )
        elapsed = time.perf_counter() - started
        await engine.dispose()
        return elapsed, summary.visits_created

    elapsed, visits = asyncio.run(run())
    return {"seconds": elapsed, "visits": visits, "peak_mb": peak_rss_mb()}


def child_baseline(path: Path, *, foreign_keys: bool) -> dict[str, float]:
    """The same visit rows into the same table (same indexes, unique key and foreign keys, checked) of a copy of
    the database taken before planning, with plain sqlite3.executemany in one transaction."""
    source = sqlite3.connect(path)
    columns = [row[1] for row in source.execute("PRAGMA table_info(visits)") if row[1] != "id"]
    rows = source.execute(f"SELECT {', '.join(columns)} FROM visits ORDER BY id").fetchall()
    source.close()
    target = sqlite3.connect(path.with_name(f"baseline-fk{int(foreign_keys)}.db"))
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=NORMAL")
    target.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    placeholders = ", ".join("?" for _ in columns)
    started = time.perf_counter()
    with target:
        target.executemany(f"INSERT INTO visits ({', '.join(columns)}) VALUES ({placeholders})", rows)
    elapsed = time.perf_counter() - started
    target.close()
    return {"seconds": elapsed, "visits": len(rows), "peak_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elders", "--rows", type=int, default=20_000, help="number of elders (default 20,000)")
    parser.add_argument("--child", choices=["plan", "baseline-fk1", "baseline-fk0"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "plan":
            result = child_plan(args.db)
        else:
            result = child_baseline(args.db, foreign_keys=args.child.endswith("1"))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        started = time.perf_counter()
        build(path, args.elders)
        for fk in (0, 1):
            shutil.copyfile(path, path.with_name(f"baseline-fk{fk}.db"))
        print(f"built {args.elders:,} elders in {time.perf_counter() - started:.1f} s (not timed below)")

        def child(kind: str) -> dict[str, float]:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, "--db", str(path)],
                check=True,
                capture_output=True,
                text=True,
                env=os.environ | {"PYTHONWARNINGS": "ignore"},
            )
            return json.loads(out.stdout.strip().splitlines()[-1])

        plan = child("plan")
        baseline = child("baseline-fk1")
        bare = child("baseline-fk0")
    print(f"{'':28}{'visits':>12}{'seconds':>10}{'visits/s':>12}{'peak RSS MB':>13}")
    results = (
        ("carevisit generate_month", plan),
        ("baseline executemany", baseline),
        ("baseline, FKs unchecked", bare),
    )
    for name, result in results:
        rate = result["visits"] / result["seconds"] if result["seconds"] else float("inf")
        print(
            f"{name:28}{int(result['visits']):>12,}{result['seconds']:>10.2f}{rate:>12,.0f}{result['peak_mb']:>13.0f}"
        )
    print(
        f"ratio (carevisit time / baseline time): {plan['seconds'] / baseline['seconds']:.2f}x;"
        f" against the baseline with foreign keys unchecked: {plan['seconds'] / bare['seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
