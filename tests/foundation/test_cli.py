"""The `carevisit` command as a coordinator meets it: clear messages, no tracebacks, nothing written on error."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carevisit.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cv.db'}"}


def test_every_command_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "config", "demo", "run"):
        assert command in result.output


def test_db_upgrade_creates_the_schema_and_is_safe_to_repeat(env: dict[str, str]) -> None:
    first = runner.invoke(app, ["db", "upgrade"], env=env)
    second = runner.invoke(app, ["db", "upgrade"], env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    current = runner.invoke(app, ["db", "current"], env=env)
    assert "up to date" in current.output


def test_run_refuses_an_unmigrated_database_and_says_what_to_do(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["run"], env=env)
    assert result.exit_code == 3
    assert "carevisit db upgrade" in result.output
    assert "Traceback" not in result.output


def test_config_check_prints_settings_with_secrets_masked(env: dict[str, str]) -> None:
    env = env | {"CAREVISIT_TELEGRAM_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"}
    result = runner.invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in result.output
    assert "CAREVISIT_TIMEZONE" in result.output and "Asia/Shanghai" in result.output
    assert "Twilio SMS/voice: off" in result.output


def test_config_check_names_each_bad_variable_without_a_traceback(env: dict[str, str]) -> None:
    env = env | {"CAREVISIT_TIMEZONE": "Moon/Base", "CAREVISIT_DEFAULT_REGION": "ZZ"}
    result = runner.invoke(app, ["config", "check"], env=env)
    assert result.exit_code == 2
    assert "CAREVISIT_TIMEZONE" in result.output and "CAREVISIT_DEFAULT_REGION" in result.output
    assert "Traceback" not in result.output


def test_demo_builds_a_sample_programme_once(env: dict[str, str], tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    first = runner.invoke(app, ["demo", "--database", str(database), "--no-serve"], env=env)
    assert first.exit_code == 0, first.output
    assert "360 elders" in first.output
    assert "Planned 20" in first.output and "confirmed" in first.output
    again = runner.invoke(app, ["demo", "--database", str(database), "--no-serve"], env=env)
    assert again.exit_code == 0 and "already" in again.output
    with sqlite3.connect(database) as connection:
        assert connection.execute("select count(*) from elders").fetchone() == (360,)
        assert connection.execute("select count(distinct community_id) from elders").fetchone() == (12,)
        assert connection.execute("select count(*) from volunteers").fetchone()[0] >= 24


def test_demo_never_writes_into_a_real_programme(env: dict[str, str], tmp_path: Path) -> None:
    real = tmp_path / "real.db"
    assert runner.invoke(app, ["demo", "--database", str(real), "--no-serve"], env=env).exit_code == 0
    with sqlite3.connect(real) as connection:
        connection.execute("update coordinators set username = 'chief' where username = 'demo'")
    result = runner.invoke(app, ["demo", "--database", str(real), "--no-serve"], env=env)
    assert result.exit_code == 1 and "real programme" in result.output


def test_config_check_shows_the_data_dir_in_use(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check"], env=env | {"COLUMNS": "400"})  # one line a setting
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "CAREVISIT_DATA_DIR" in line)
    assert str(tmp_path / "carevisit-data") in row


def test_run_refuses_a_data_dir_it_cannot_write_and_says_which(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = runner.invoke(app, ["run"], env=env | {"CAREVISIT_DATA_DIR": str(tmp_path / "a-file" / "data")})
    assert result.exit_code == 2, result.output
    assert "CAREVISIT_DATA_DIR" in result.output and "a-file" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"
