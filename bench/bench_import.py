"""Benchmark: import N elder rows from a CSV into a fresh SQLite file, against plain sqlite3.executemany.

    python bench/bench_import.py                 # 20,000 rows: a quick run
    python bench/bench_import.py --rows 1000000  # the figure that matters

The import is the real thing (`roster.importer.import_elders`: both passes, every phone decided on phonenumbers'
metadata, bulk upserts in one transaction), with as many validating processes as `carevisit import` would use
(`--workers`).
The baseline inserts the very same stored values (elders and their emergency contacts)
into tables of the same shape with `sqlite3.executemany`, prepared in memory beforehand and timed alone, in one
transaction, with the same pragmas. Peak memory is the process's maximum resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`) read right after the import, before the baseline runs; with worker
processes, also the largest worker's (`RUSAGE_CHILDREN`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carevisit.care.clock import FakeClock
from carevisit.care.phones import parse_phone
from carevisit.commands.roster import workers_for
from carevisit.roster.importer import import_elders
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory

HEADER = [
    "编号", "姓名", "性别", "出生日期", "电话", "地址", "省", "市", "区县", "街道", "社区", "类别", "风险等级",
    "是否同意", "紧急联系人1", "关系1", "联系电话1", "紧急联系人2", "关系2", "联系电话2", "备注",
]  # fmt: skip
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
_GIVEN = "秀英桂兰玉兰凤英淑珍建国志强国华德明文华明华秀珍春梅玉珍桂英"
_CLASSES = [("独居", 1), ("空巢", 2), ("独居、高龄", 65), ("空巢、失能", 10), ("留守", 4), ("重残、高龄", 80)]
_RISKS = [("高", "high"), ("中", "medium"), ("低", "low")]
ELDERS_PER_COMMUNITY = 300
COMMUNITIES_PER_STREET = 12
STREETS_PER_DISTRICT = 10


def generate(rows: int, seed: int = 2026) -> Iterator[tuple[list[str], tuple, list[tuple]]]:
    """Each elder as (CSV cells, the stored elder values, the stored contact values)."""
    rng = random.Random(seed)
    for n in range(rows):
        community = n // ELDERS_PER_COMMUNITY
        street = community // COMMUNITIES_PER_STREET
        district = street // STREETS_PER_DISTRICT
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        born = date(rng.randint(1925, 1960), rng.randint(1, 12), rng.randint(1, 28))
        phone = f"13{n % 10}{n:08d}" if n % 5 else ""
        classes, bits = rng.choice(_CLASSES)
        risk_zh, risk = rng.choice(_RISKS)
        contacts = [(rng.choice(_SURNAMES) + "建国", "儿子", f"139{n:08d}"), (rng.choice(_SURNAMES) + "芳", "女儿",
                    f"137{n:08d}")]  # fmt: skip
        address = f"科苑路{rng.randint(1, 300)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}"
        cells = [
            f"E{n:08d}", name, rng.choice("男女"), born.isoformat(), phone, address, "广东省", "深圳市",
            f"第{district + 1}区", f"第{street + 1}街道", f"第{community + 1}社区", classes, risk_zh, "是",
            *(part for contact in contacts for part in contact), "",
        ]  # fmt: skip
        stored = (
            n + 1, f"E{n:08d}", name, "female" if cells[2] == "女" else "male", born.isoformat(),
            f"+86{phone}" if phone else None, "mobile" if phone else None, address, community + 1, bits, risk, 1,
            "active", None, "2026-03-10", "", "2026-03-10 02:00:00", "2026-03-10 02:00:00", None, None, "", None, None,
            0,
        )  # fmt: skip
        stored_contacts = [
            (n + 1, position, c_name, relation, f"+86{c_phone}", "mobile", 0, 0, None, None)
            for position, (c_name, relation, c_phone) in enumerate(contacts, start=1)
        ]
        yield cells, stored, stored_contacts


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        writer.writerows(cells for cells, _, _ in generate(rows))


async def run_import(database: Path, roster: Path, workers: int) -> tuple[float, float, int]:
    """(total seconds, seconds of pass 1: reading and validating, rows)."""
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    await schema.upgrade(engine)  # not timed: a fresh, migrated database
    clock = FakeClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    checked: list[float] = []

    def progress(phase: str, _done: int, _total: int | None) -> None:
        if phase == "writing" and not checked:
            checked.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with make_session_factory(engine)() as session:
        result = await import_elders(
            session, path=roster, clock=clock, zone=ZoneInfo("Asia/Shanghai"), region="CN", actor="bench",
            progress=progress, workers=workers,
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert result.written and result.ok, result.problems[:5]
    return elapsed, checked[0], result.rows


_BASELINE_SCHEMA = """
CREATE TABLE elders (id INTEGER PRIMARY KEY, external_id VARCHAR(64) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL,
  gender VARCHAR(15) NOT NULL, birth_date DATE, phone VARCHAR(20), phone_kind VARCHAR(23), address VARCHAR(300),
  community_id INTEGER NOT NULL, classes INTEGER NOT NULL, risk VARCHAR(14) NOT NULL, consent BOOLEAN NOT NULL,
  status VARCHAR(16) NOT NULL, paused_until DATE, enrolled_on DATE NOT NULL, notes TEXT NOT NULL,
  created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, phone2 VARCHAR(20), phone2_kind VARCHAR(23),
  village_group VARCHAR(100) NOT NULL, id_card_masked VARCHAR(18), id_card_hash VARCHAR(64),
  programmes INTEGER NOT NULL);
CREATE INDEX ix_elders_community_id ON elders (community_id);
CREATE INDEX ix_elders_id_card_hash ON elders (id_card_hash);
CREATE INDEX ix_elders_status ON elders (status);
CREATE TABLE emergency_contacts (id INTEGER PRIMARY KEY, elder_id INTEGER NOT NULL REFERENCES elders (id),
  position INTEGER NOT NULL, name VARCHAR(100) NOT NULL, relation VARCHAR(50) NOT NULL, phone VARCHAR(20) NOT NULL,
  phone_kind VARCHAR(23) NOT NULL, is_carer BOOLEAN NOT NULL, sms_opt_in BOOLEAN NOT NULL, language VARCHAR(8),
  opted_out_at DATETIME, UNIQUE (elder_id, position));
CREATE INDEX ix_emergency_contacts_elder_id ON emergency_contacts (elder_id);
"""


def run_baseline(database: Path, rows: int, chunk: int = 100_000) -> float:
    """Plain executemany of the same stored values; only the inserts and the commit are timed."""
    connection = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    connection.executescript(_BASELINE_SCHEMA)
    elders_sql = f"INSERT INTO elders VALUES ({', '.join('?' * 24)})"
    contacts_sql = (
        "INSERT INTO emergency_contacts (elder_id, position, name, relation, phone, phone_kind, is_carer, sms_opt_in,"
        " language, opted_out_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    elapsed = 0.0
    source = generate(rows)
    connection.execute("BEGIN")
    done = 0
    while done < rows:
        batch = [next(source) for _ in range(min(chunk, rows - done))]
        elders = [stored for _, stored, _ in batch]
        contacts = [contact for _, _, stored_contacts in batch for contact in stored_contacts]
        started = time.perf_counter()
        connection.executemany(elders_sql, elders)
        connection.executemany(contacts_sql, contacts)
        elapsed += time.perf_counter() - started
        done += len(batch)
    started = time.perf_counter()
    connection.execute("COMMIT")
    elapsed += time.perf_counter() - started
    connection.close()
    return elapsed


def phones_alone(rows: int, sample_rows: int = 10_000) -> float:
    """Seconds care.phones.parse_phone needs for the file's numbers, timed on a sample: the floor of validation."""
    sample = min(rows, sample_rows)
    numbers = [n for cells, _, _ in generate(sample) for n in (cells[4], cells[16], cells[19]) if n]
    started = time.perf_counter()
    for number in numbers:
        parse_phone(number, "CN")
    return (time.perf_counter() - started) * rows / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="elder rows to generate (default 20,000)")
    parser.add_argument(
        "--workers", type=int, default=0, help="validating processes; 0 (default): as `carevisit import` chooses"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="carevisit-bench-") as directory:
        work = Path(directory)
        roster = work / "elders.csv"
        write_csv(roster, args.rows)
        workers = workers_for(roster, args.workers)
        imported, checking, rows = asyncio.run(run_import(work / "import.db", roster, workers))
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        worker_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest worker
        baseline = run_baseline(work / "baseline.db", args.rows)
        phones = phones_alone(args.rows)

    print(f"rows: {rows:,} elders, {2 * rows:,} emergency contacts; CSV {roster.name} (UTF-8); {os.cpu_count()} CPUs")
    print(
        f"carevisit import elders:   {imported:8.2f} s  {rows / imported:>10,.0f} rows/s  peak RSS {peak_mib:,.0f} MiB"
    )
    writing = imported - checking
    print(
        f"  pass 1, read + validate: {checking:8.2f} s  on {workers} process(es); phone parsing alone, one process:"
        f" ≈ {phones:.2f} s"
    )
    print(f"  pass 2, write:           {writing:8.2f} s  ({writing / baseline:.1f}x the baseline)")
    if workers > 1:
        print(f"  peak RSS of the largest validating worker: {worker_peak_mib:,.0f} MiB")
    print(f"sqlite3.executemany (base): {baseline:7.2f} s  {rows / baseline:>10,.0f} rows/s")
    print(f"ratio import / baseline:   {imported / baseline:8.1f}x  (target < 3x; peak memory target < 1 GiB)")


if __name__ == "__main__":
    main()
