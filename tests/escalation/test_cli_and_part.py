"""`carevisit drill` / `carevisit incidents …` as a coordinator meets them, and the part under `carevisit run`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.cli import app
from carevisit.config import load_settings
from carevisit.escalation import incidents
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.parts.escalation import EscalationPart, make_part
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Incident
from tests.escalation.conftest import CONTACT1, make_world_data
from tests.escalation.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio

runner = CliRunner()


@pytest.fixture
def env(db_url: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised on the SQLite copy; the services underneath run on both backends")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": db_url}


async def test_drill_list_show_and_resolve_from_the_command_line(
    env: dict[str, str], session: AsyncSession, clock: FakeClock
) -> None:
    data = await make_world_data(session, clock)
    roster_id = data["elder"].external_id

    missing = await asyncio.to_thread(runner.invoke, app, ["drill", "FT-0001"], env=env)
    assert missing.exit_code == 1 and "No elder with roster id (编号) 'FT-0001'" in missing.output
    internal = await asyncio.to_thread(runner.invoke, app, ["drill", str(data["elder"].id)], env=env)
    assert internal.exit_code == 1, "a database id is not a roster id"

    result = await asyncio.to_thread(runner.invoke, app, ["drill", roster_id, "--by", "coordinator:1"], env=env)
    assert result.exit_code == 0, result.output
    incident = (await session.exec(select(Incident))).one()
    assert incident.is_drill and incident.status == IncidentStatus.OPEN

    listed = await asyncio.to_thread(runner.invoke, app, ["incidents", "list"], env=env)
    assert listed.exit_code == 0 and "演练" in listed.output and roster_id in listed.output

    shown = await asyncio.to_thread(
        runner.invoke, app, ["incidents", "show", str(incident.id), "--format", "json"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)[0]["what"] == "opened"

    no_outcome = await asyncio.to_thread(
        runner.invoke, app, ["incidents", "resolve", str(incident.id), "--outcome", " "], env=env
    )
    assert no_outcome.exit_code == 1 and "nothing was changed" in no_outcome.output
    done = await asyncio.to_thread(
        runner.invoke, app, ["incidents", "resolve", str(incident.id), "--outcome", "号码均有效"], env=env
    )
    assert done.exit_code == 0, done.output
    await session.refresh(incident)
    assert incident.status == IncidentStatus.RESOLVED


async def test_invite_takes_the_volunteers_roster_id_or_the_coordinators_user_name(
    env: dict[str, str], session: AsyncSession, clock: FakeClock
) -> None:
    data = await make_world_data(session, clock)
    data["coordinator"].username = "zhang.community"
    await session.commit()
    bot = ["--bot-username", "carevisit_test_bot"]

    volunteer = await asyncio.to_thread(runner.invoke, app, ["invite", data["volunteer"].external_id, *bot], env=env)
    assert volunteer.exit_code == 0 and "https://t.me/carevisit_test_bot?start=" in volunteer.output
    staff = await asyncio.to_thread(runner.invoke, app, ["invite", "--coordinator", "zhang.community", *bot], env=env)
    assert staff.exit_code == 0 and "https://t.me/carevisit_test_bot?start=" in staff.output
    unknown = await asyncio.to_thread(runner.invoke, app, ["invite", "--coordinator", "1", *bot], env=env)
    assert unknown.exit_code == 1 and "No active coordinator with user name '1'" in unknown.output


async def test_the_part_mounts_webhooks_pages_through_its_loops_and_stops(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    clock: FakeClock,
    fake_twilio: FakeTwilio,
    db_url: str,
) -> None:
    data: dict[str, Any] = await make_world_data(session, clock)
    settings = load_settings(
        database_url=db_url,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM,
        public_url="http://127.0.0.1:9/",
        secret_key="part-test-secret",
    )
    rt = Runtime(settings=settings, clock=clock, engine=engine, sessions=session_factory)
    assert isinstance(make_part(rt), EscalationPart)
    assert fake_twilio.server is not None
    pager = TwilioPager(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM, api_base=str(fake_twilio.server.make_url(""))
    )
    part = EscalationPart(rt, pager=pager, interval=0.01)
    web_app = web.Application()
    part.add_routes(web_app)
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(str(server.make_url("/twilio/sms")), data={"From": CONTACT1, "Body": "1"}) as response,
        ):
            assert response.status == 403  # unsigned
        await part.start()
        async with session_factory() as s:
            await incidents.open_incident(
                s, clock=clock, policy=part.esc.config.policy, elder_id=data["elder"].id, kind="fall"
            )
            await s.commit()
        for _ in range(500):  # wait for the loops to page (no timing asserted)
            if fake_twilio.sms_to(CONTACT1) and fake_twilio.calls_to(CONTACT1):
                break
            await asyncio.sleep(0.01)
        await part.loops.wait_idle(2)  # both loops came round with nothing to do: an event, not a sleep
        assert len(fake_twilio.sms_to(CONTACT1)) == 1 and len(fake_twilio.calls_to(CONTACT1)) == 1
    finally:
        await part.stop()
        await server.close()


async def test_incidents_show_as_csv_writes_a_formula_in_a_name_as_text(
    env: dict[str, str], session: AsyncSession, clock: FakeClock
) -> None:
    data = await make_world_data(session, clock)
    data["coordinator"].name = "=cmd|' /C calc'!A0"
    await session.commit()
    by = f"coordinator:{data['coordinator'].id}"
    opened = await asyncio.to_thread(runner.invoke, app, ["drill", data["elder"].external_id, "--by", by], env=env)
    assert opened.exit_code == 0, opened.output
    incident = (await session.exec(select(Incident))).one()
    shown = await asyncio.to_thread(
        runner.invoke, app, ["incidents", "show", str(incident.id), "--format", "csv"], env=env
    )
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(io.StringIO(shown.output)))
    assert [row["who"] for row in rows if row["what"] == "note"] == ["'=cmd|' /C calc'!A0"]
