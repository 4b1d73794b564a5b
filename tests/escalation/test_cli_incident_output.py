"""`carevisit incidents list/show` read as a coordinator reads them: local times, words instead of codes, no
internal ids but the incident's own number (which the other commands take)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from carevisit.care.clock import FakeClock
from carevisit.cli import app
from carevisit.escalation import incidents
from carevisit.escalation.policy import DEFAULT_POLICY
from tests.escalation.conftest import make_world_data

runner = CliRunner()


@pytest.fixture
def env(db_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised on the SQLite copy; the services underneath run on both backends")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": db_url, "COLUMNS": "80"}


@pytest.fixture
async def fall(session: AsyncSession, clock: FakeClock) -> int:
    """A fall at 10:00 Shanghai time (02:00 UTC), acknowledged by the elder's daughter by SMS at 10:05."""
    data = await make_world_data(session, clock)
    incident = await incidents.open_incident(
        session,
        clock=clock,
        policy=DEFAULT_POLICY,
        elder_id=data["elder"].id,
        kind="fall",
        description="在厨房跌倒",
        reporter_volunteer_id=data["volunteer"].id,
    )
    clock.advance(timedelta(minutes=5))
    contact = data["contacts"][0]
    await incidents.acknowledge(
        session, clock=clock, incident_id=incident.id or 0, by=f"contact:{contact.id}", channel="sms", language="zh_CN"
    )
    await session.commit()
    return incident.id or 0


async def invoke(env: dict[str, str], *args: str) -> str:
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_list_is_in_local_time_and_in_chinese(env: dict[str, str], fall: int) -> None:
    listed = await invoke(env, "incidents", "list")
    assert "紧急事件（Asia/Shanghai 时间）" in listed and "2026-03-10 10:00" in listed and "UTC" not in listed
    assert f"#{fall}" in listed and "跌倒" in listed and "已确认" in listed and "李娜（女儿）" in listed
    assert "contact:" not in listed and "acknowledged" not in listed


async def test_the_list_follows_the_configured_zone_and_language(env: dict[str, str], fall: int) -> None:
    listed = await invoke(
        env | {"CAREVISIT_TIMEZONE": "Europe/London", "CAREVISIT_LANGUAGE": "en"}, "incidents", "list"
    )
    assert "Emergencies (Europe/London time)" in listed and "2026-03-10 02:00" in listed
    assert "a fall" in listed and "acknowledged" in listed and "跌倒" not in listed


async def test_the_timeline_reads_as_sentences_in_local_time(env: dict[str, str], fall: int) -> None:
    shown = await invoke(env, "incidents", "show", str(fall))
    assert (
        f"事件 #{fall} 的处置经过（Asia/Shanghai 时间）" in shown
        and "03-10 10:00:00" in shown
        and "03-10 10:05:00" in shown
    )
    assert "张伟报告跌倒：在厨房跌倒" in shown and "李娜（女儿）确认收到（短信）" in shown
    assert "opened" not in shown and "contact:" not in shown


async def test_the_csv_archive_names_its_zone_and_keeps_local_times(env: dict[str, str], fall: int) -> None:
    exported = await invoke(env, "incidents", "show", str(fall), "--format", "csv")
    header, first, *_ = exported.splitlines()
    assert header.startswith("at (Asia/Shanghai),") and first.startswith("2026-03-10 10:00:00,opened")
