"""`carevisit import …` as a coordinator runs it: exit codes, messages, and the database after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from carevisit.cli import app
from carevisit.storage.db import make_engine
from carevisit.storage.models import Area, Elder, Volunteer
from tests.roster.files import ELDER_HEADER_ZH, VOLUNTEER_HEADER_ZH, elder_row, volunteer_row, write_csv, write_xlsx
from tests.roster.forms import STREET_TITLE, FormSheet, form_row, write_form

runner = CliRunner()


@pytest.fixture
def env(db_url: str, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The command's environment, on the test's (migrated, empty) database."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": db_url}


def rows_in(db_url: str, model: type) -> int:
    import asyncio

    from sqlalchemy import func, select

    async def count() -> int:
        engine = make_engine(db_url)
        async with engine.connect() as connection:
            value = (await connection.execute(select(func.count()).select_from(model))).scalar_one()  # type: ignore[call-overload]
        await engine.dispose()
        return int(value)

    return asyncio.run(count())


def test_import_has_help_for_both_rosters() -> None:
    result = runner.invoke(app, ["import", "--help"])
    assert result.exit_code == 0
    assert "elders" in result.output and "volunteers" in result.output
    assert "--dry-run" in runner.invoke(app, ["import", "elders", "--help"]).output


def test_importing_elders_then_volunteers(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    elders = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1"), elder_row("E2")], "gb18030")
    result = runner.invoke(app, ["import", "elders", str(elders)], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported 2 elders from elders.csv: 2 new, 0 updated, 5 areas created." in result.output

    again = runner.invoke(app, ["import", "elders", str(elders)], env=env)
    assert "0 new, 2 updated" in again.output
    assert rows_in(db_url, Elder) == 2

    volunteers = write_xlsx(tmp_path / "volunteers.xlsx", VOLUNTEER_HEADER_ZH, [volunteer_row("V1")])
    result = runner.invoke(app, ["import", "volunteers", str(volunteers)], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported 1 volunteers from volunteers.xlsx: 1 new, 0 updated, 1 organisations created." in result.output


def test_bad_rows_exit_1_name_each_problem_and_write_nothing(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    rows = [elder_row("E1"), elder_row("E2", phone="12345"), elder_row("E3", risk="很高", classes="[bold]")]
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, rows)
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)

    assert result.exit_code == 1
    assert "elders.csv: row 3, column 电话: not a valid phone number: '12345'" in result.output
    assert "elders.csv: row 4, column 类别: unknown class '[bold]'" in result.output  # printed as written
    assert "elders.csv: row 4, column 风险等级" in result.output
    assert "3 problem(s) in elders.csv (3 rows read): nothing was written." in result.output
    assert "Traceback" not in result.output
    assert rows_in(db_url, Elder) == rows_in(db_url, Area) == 0


def test_dry_run_reports_and_writes_nothing(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path), "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "all 1 elders rows are valid (dry run: nothing written)" in result.output
    assert rows_in(db_url, Elder) == 0


def test_an_unknown_header_exits_1_and_says_which(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    header = ["手机号吗" if h == "电话" else h for h in ELDER_HEADER_ZH]
    path = write_csv(tmp_path / "elders.csv", header, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 1
    assert "elders.csv: unknown column(s) E列（手机号吗）" in result.output and "Nothing was written." in result.output
    assert "Traceback" not in result.output
    assert rows_in(db_url, Elder) == 0


def test_a_missing_file_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "volunteers", str(tmp_path / "nope.csv")], env=env)
    assert result.exit_code == 1 and "nope.csv: no such file" in result.output


def test_an_unmigrated_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"CAREVISIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"}
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 3 and "carevisit db upgrade" in result.output


def test_a_bad_default_region_is_a_configuration_error(env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env | {"CAREVISIT_DEFAULT_REGION": "ZZ"})
    assert result.exit_code == 2 and "CAREVISIT_DEFAULT_REGION" in result.output


def test_volunteers_are_imported_with_the_configured_phone_region(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    elders = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    assert runner.invoke(app, ["import", "elders", str(elders)], env=env).exit_code == 0
    # A UK mobile written nationally only parses with the region set to GB.
    volunteers = write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_ZH, [volunteer_row("V1", phone="07400 123456")])
    refused = runner.invoke(app, ["import", "volunteers", str(volunteers)], env=env)
    assert refused.exit_code == 1 and "column 电话" in refused.output
    accepted = runner.invoke(
        app, ["import", "volunteers", str(volunteers)], env=env | {"CAREVISIT_DEFAULT_REGION": "GB"}
    )
    assert accepted.exit_code == 0, accepted.output
    assert rows_in(db_url, Volunteer) == 1


def test_a_workbook_of_community_sheets_says_what_it_read_and_skipped(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1"), form_row(2, "A-2")], title=STREET_TITLE),
        FormSheet("前公用社区", [form_row(1, "B-1")], title=STREET_TITLE),
    ]
    path = write_form(tmp_path / "新街口.xlsx", sheets, summary=True)
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "sheet '西四北社区': 2 rows" in result.output and "sheet '前公用社区': 1 rows" in result.output
    assert "skipped sheet '汇总' (a summary or instructions sheet)" in result.output
    assert "skipped 4 rows that are not elders: 西四北社区 row 7 (合计), 西四北社区 row 9 (填表人)" in result.output
    assert "note: sheet '西四北社区': A列（序号）: not used; ignored" in result.output
    assert "Imported 3 elders from 新街口.xlsx" in result.output
    assert rows_in(db_url, Elder) == 3
