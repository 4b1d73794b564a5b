"""`carevisit invite VOLUNTEER_ID --web` prints a volunteer-app sign-in link, which then signs a phone in."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from carevisit.care.clock import FakeClock
from carevisit.cli import app
from carevisit.storage.models import Area, Volunteer
from tests.factories import make_volunteer
from tests.volunteer_app.conftest import client_of


@pytest.fixture
def env(db_url: str, backend: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if backend != "sqlite":
        pytest.skip("the CLI runs its own event loop; one backend is enough")
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": db_url, "CAREVISIT_SECRET_KEY": "k" * 32}


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    return made


async def _invoke(*args: str, env: dict[str, str]) -> Result:
    # The command runs its own event loop: in a thread, beside this test's.
    return await asyncio.to_thread(lambda: CliRunner().invoke(app, list(args), env=env))


async def test_invite_web_prints_a_link_that_signs_a_phone_in(
    env: dict[str, str], app_server: TestServer, volunteer: Volunteer
) -> None:
    base = str(app_server.make_url("")).rstrip("/")
    result = await _invoke("invite", volunteer.external_id, "--web", env={**env, "CAREVISIT_PUBLIC_URL": base})
    assert result.exit_code == 0, result.output
    assert "within 3 days" in result.output
    found = re.search(re.escape(base) + r"(/v/in/[A-Za-z0-9_-]{40,})", result.output)
    assert found, result.output
    async with client_of(app_server) as phone:
        entered = await phone.post(found.group(1), allow_redirects=False)
        assert entered.status == 303 and entered.headers["Location"] == "/v/"


async def test_invite_web_refuses_what_it_cannot_do(env: dict[str, str], volunteer: Volunteer) -> None:
    with_url = {**env, "CAREVISIT_PUBLIC_URL": "https://care.example.cn"}
    unknown = await _invoke("invite", "NOBODY", "--web", env=with_url)
    assert unknown.exit_code == 1 and "No active volunteer with roster id (编号) 'NOBODY'" in unknown.output
    no_url = await _invoke("invite", volunteer.external_id, "--web", env=env)
    assert no_url.exit_code == 2 and "CAREVISIT_PUBLIC_URL" in no_url.output
    coordinator = await _invoke("invite", "lead", "--web", "--coordinator", env=with_url)
    assert coordinator.exit_code == 2 and "for volunteers" in coordinator.output
    longer = await _invoke("invite", volunteer.external_id, "--web", "--days", "10", env=with_url)
    assert longer.exit_code == 0 and "within 10 days" in longer.output
