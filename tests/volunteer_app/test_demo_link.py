"""`carevisit demo` prints a volunteer-app sign-in link for a demo volunteer, which signs a browser in to the demo."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from typer.testing import CliRunner

from carevisit.bootstrap import Runtime
from carevisit.care.clock import SystemClock
from carevisit.cli import app
from carevisit.config import load_settings
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.web import build_web_app
from tests.volunteer_app.conftest import client_of


async def test_the_demo_hands_out_a_volunteers_phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    database = tmp_path / "demo.db"
    # The command runs its own event loop: in a thread, beside this test's.
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["demo", "--database", str(database), "--no-serve", "--port", "8099"]
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"as volunteer (V\d{4}).*\n\s*http://127\.0\.0\.1:8099(/v/in/[A-Za-z0-9_-]{40,})", result.output)
    assert found, result.output

    url = f"sqlite+aiosqlite:///{database}"
    engine = make_engine(url)
    rt = Runtime(load_settings(database_url=url), SystemClock(), engine, make_session_factory(engine))
    server = TestServer(build_web_app(rt), host="127.0.0.1")
    await server.start_server()
    try:
        async with client_of(server) as phone:
            entered = await phone.post(found.group(2), allow_redirects=False)
            assert entered.status == 303 and entered.headers["Location"] == "/v/"
            assert (await phone.get("/v/", allow_redirects=False)).status == 200
    finally:
        await server.close()
        await engine.dispose()
