"""`carevisit coordinator …` as an installer meets it: the first admin from the command line, passwords never in
arguments, areas by code or by name path, clear refusals that change nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carevisit.cli import app

runner = CliRunner()
AREAS = [  # code, name, level, parent code: two streets named alike under different districts
    ("44", "广东省", "province", None),
    ("4403", "深圳市", "city", "44"),
    ("440305", "南山区", "district", "4403"),
    ("440305001", "粤海街道", "street", "440305"),
    ("440306", "宝安区", "district", "4403"),
    ("440306001", "新安街道", "street", "440306"),
    ("440305002", "新安街道", "street", "440305"),
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    env = {"CAREVISIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cv.db'}"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    with sqlite3.connect(tmp_path / "cv.db") as db:
        paths: dict[str, str] = {}
        for code, name, level, parent in AREAS:
            paths[code] = f"{paths[parent] if parent else '/'}{code}/"
            parent_id = db.execute("select id from areas where code = ?", (parent,)).fetchone() if parent else None
            db.execute(
                "insert into areas (code, name, level, parent_id, path) values (?, ?, ?, ?, ?)",
                (code, name, level, parent_id[0] if parent_id else None, paths[code]),
            )
    return env


def _rows(tmp_path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(tmp_path / "cv.db") as db:
        return db.execute(sql).fetchall()


def test_add_takes_the_password_from_stdin_and_the_area_by_name_path(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["coordinator", "add", "li", "--area", "南山区/粤海街道", "--role", "admin", "--name", "李主任",
         "--phone", "13800138000", "--password-stdin"],
        input="a long enough secret\n",
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "广东省/深圳市/南山区/粤海街道" in result.output
    [(role, phone, password_hash, area_code)] = _rows(
        tmp_path,
        "select c.role, c.phone, c.password_hash, a.code from coordinators c join areas a on a.id = c.area_id",
    )
    assert (role, phone, area_code) == ("admin", "+8613800138000", "440305001")
    assert password_hash.startswith("$argon2") and "a long enough secret" not in password_hash

    listing = runner.invoke(app, ["coordinator", "list"], env=env)
    assert listing.exit_code == 0, listing.output
    assert "li" in listing.output and "李主任" in listing.output and "13800138000" not in listing.output


def test_add_prompts_twice_for_a_hidden_password(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["coordinator", "add", "wang", "--area", "440305001", "--role", "coordinator"],
        input="first password\nfirst password\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "first password" not in result.output  # hidden
    assert _rows(tmp_path, "select username, role from coordinators") == [("wang", "coordinator")]


@pytest.mark.parametrize(
    ("area", "password", "says"),
    [
        ("新安街道", "long enough pw", "宝安区/新安街道"),  # two streets of that name: both are named
        ("不存在街道", "long enough pw", "does not exist"),
        ("440305001", "short", "at least 8"),
    ],
)
def test_a_refused_add_says_why_and_writes_nothing(
    env: dict[str, str], tmp_path: Path, area: str, password: str, says: str
) -> None:
    result = runner.invoke(
        app,
        ["coordinator", "add", "zhao", "--area", area, "--role", "viewer", "--password-stdin"],
        input=password + "\n",
        env=env,
    )
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert _rows(tmp_path, "select count(*) from coordinators") == [(0,)]


def test_a_taken_username_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    args = ["coordinator", "add", "li", "--area", "440305", "--role", "admin", "--password-stdin"]
    assert runner.invoke(app, args, input="a long enough secret\n", env=env).exit_code == 0
    again = runner.invoke(app, args, input="another long secret\n", env=env)
    assert again.exit_code == 2 and "taken" in again.output
    assert _rows(tmp_path, "select count(*) from coordinators") == [(1,)]


def test_passwd_ends_sessions_and_disable_enable_toggle(env: dict[str, str], tmp_path: Path) -> None:
    add = ["coordinator", "add", "li", "--area", "440305", "--role", "admin", "--password-stdin"]
    assert runner.invoke(app, add, input="a long enough secret\n", env=env).exit_code == 0
    [(old_hash, version)] = _rows(tmp_path, "select password_hash, session_version from coordinators")

    passwd = runner.invoke(app, ["coordinator", "passwd", "li", "--password-stdin"], input="a new secret!\n", env=env)
    assert passwd.exit_code == 0, passwd.output
    [(new_hash, new_version)] = _rows(tmp_path, "select password_hash, session_version from coordinators")
    assert new_hash != old_hash and new_version == version + 1

    assert runner.invoke(app, ["coordinator", "disable", "li"], env=env).exit_code == 0
    assert _rows(tmp_path, "select active from coordinators") == [(0,)]
    assert " no " in runner.invoke(app, ["coordinator", "list"], env=env).output
    assert runner.invoke(app, ["coordinator", "enable", "li"], env=env).exit_code == 0
    assert _rows(tmp_path, "select active from coordinators") == [(1,)]

    unknown = runner.invoke(app, ["coordinator", "disable", "nobody"], env=env)
    assert unknown.exit_code == 2 and "nobody" in unknown.output


def test_there_is_no_password_argument(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["coordinator", "add", "li", "--area", "440305", "--role", "admin", "--password", "x"], env=env
    )
    assert result.exit_code != 0
    assert "No such option" in result.output
