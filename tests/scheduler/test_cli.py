"""`carevisit plan`, `visits extra`, `visits reassign` and `report` as a coordinator runs them (SQLite file)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook
from rich.cells import cell_len
from typer.testing import CliRunner

from carevisit.care.clock import SystemClock
from carevisit.cli import app
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import RiskLevel
from tests.factories import make_area_tree, make_elder, make_volunteer

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cv.db'}"

    async def seed() -> None:
        engine = make_engine(url)
        await schema.upgrade(engine)
        async with make_session_factory(engine)() as session:
            clock = SystemClock()
            areas = await make_area_tree(session)
            await make_volunteer(session, clock, communities=[areas["community"]], external_id="V-LEAVING", capacity=2)
            await make_volunteer(session, clock, communities=[areas["community"]], external_id="V-STAYING", capacity=2)
            await make_elder(session, clock, community=areas["community"], external_id="E-1", risk=RiskLevel.MEDIUM)
            await make_elder(session, clock, community=areas["community"], external_id="E-2", risk=RiskLevel.MEDIUM)
            await session.commit()
        await engine.dispose()

    asyncio.run(seed())
    return {"CAREVISIT_DATABASE_URL": url, "COLUMNS": "200"}


def visit_count(tmp_path: Path, where: str = "1=1") -> int:
    with sqlite3.connect(tmp_path / "cv.db") as db:
        return int(db.execute(f"SELECT count(*) FROM visits WHERE {where}").fetchone()[0])


def test_plan_dry_run_writes_nothing_then_plan_twice_plans_once(env: dict[str, str], tmp_path: Path) -> None:
    dry = runner.invoke(app, ["plan", "--month", "2030-02", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "visits to create: 4" in dry.output and "home 2, phone 2" in dry.output
    assert visit_count(tmp_path) == 0
    first = runner.invoke(app, ["plan", "--month", "2030-02"], env=env)
    second = runner.invoke(app, ["plan", "--month", "2030-02"], env=env)
    assert "visits created: 4" in first.output and "unassigned visits this month: 0" in first.output
    assert "already planned: 2" in second.output and visit_count(tmp_path) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--month", "2030-13"], "YYYY-MM"),
        (["plan", "--month", "2020-01"], "has ended"),
        (["visits", "extra", "--reason", "出院", "--elder", "E-404", "--within", "24h"], "E-404"),
        (["visits", "extra", "--reason", "出院", "--elder", "E-1", "--within", "soon"], "24h"),
        (["visits", "extra", "--reason", "高温", "--area", "nowhere", "--within", "1d"], "nowhere"),
        (["visits", "reassign", "--deactivate", "V-NOBODY"], "V-NOBODY"),
        (["report", "--format", "xlsx"], "--output"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert visit_count(tmp_path) == 0


def test_extra_visits_for_an_elder_and_for_a_class_in_an_area(env: dict[str, str], tmp_path: Path) -> None:
    one = runner.invoke(app, ["visits", "extra", "--reason", "出院", "--elder", "E-1", "--within", "24h"], env=env)
    assert one.exit_code == 0, one.output
    assert "extra visits ordered: 1 (0 unassigned)" in one.output
    many = runner.invoke(
        app,
        ["visits", "extra", "--reason", "高温", "--area", "440305001", "--class", "alone", "--within", "2d"],
        env=env,
    )
    assert "extra visits ordered: 2" in many.output, many.output
    assert visit_count(tmp_path, "kind = 'extra' AND deadline_at IS NOT NULL") == 3


def test_deactivating_a_volunteer_hands_their_visits_over(env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(app, ["plan", "--month", "2030-02"], env=env)
    result = runner.invoke(app, ["visits", "reassign", "--month", "2030-02", "--deactivate", "V-LEAVING"], env=env)
    assert result.exit_code == 0, result.output
    # V-STAYING already holds 2 of its 2: the other two are listed as unassigned, by roster id.
    assert "0 visits reassigned, 2 still unassigned" in result.output
    assert "E-" in result.output
    internal = runner.invoke(app, ["visits", "reassign", "--month", "2030-02", "--deactivate", "1"], env=env)
    assert internal.exit_code != 0, "a database id is not a roster id"


def test_report_as_table_csv_and_excel(env: dict[str, str], tmp_path: Path) -> None:
    runner.invoke(app, ["plan", "--month", "2030-02"], env=env)
    shown = runner.invoke(app, ["report", "--month", "2030-02", "--area", "440305"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "月探访率" in shown.output and "粤海街道" in shown.output
    as_csv = runner.invoke(app, ["report", "--month", "2030-02", "--by", "volunteer", "--format", "csv"], env=env)
    assert "志愿者代码" in as_csv.output and "V-LEAVING" in as_csv.output
    out = tmp_path / "report.xlsx"
    saved = runner.invoke(app, ["report", "--month", "2030-02", "--format", "xlsx", "--output", str(out)], env=env)
    assert saved.exit_code == 0, saved.output
    sheet = load_workbook(out).active
    assert sheet is not None and sheet["A1"].value == "区域代码"


@pytest.mark.parametrize("by", ["area", "organisation", "volunteer"])
def test_report_table_fits_an_80_column_terminal(env: dict[str, str], by: str) -> None:
    runner.invoke(app, ["plan", "--month", "2030-02"], env=env)
    shown = runner.invoke(app, ["report", "--month", "2030-02", "--by", by], env={**env, "COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert max(cell_len(line) for line in lines) <= 80, "\n" + shown.output
    assert "探访率" in shown.output and "合计" in shown.output
    if by == "volunteer":
        assert "V-LEAVING" in shown.output, "a volunteer is named with their roster id"


def test_report_by_area_over_one_city_and_one_district_lists_the_streets(env: dict[str, str]) -> None:
    # The tree is 广东省 > 深圳市 > 南山区 > two streets: the province's report descends to the streets.
    shown = runner.invoke(app, ["report", "--month", "2030-02", "--area", "44"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "粤海街道" in shown.output and "沙河街道" in shown.output and "深圳市" not in shown.output.split("合计")[0]
