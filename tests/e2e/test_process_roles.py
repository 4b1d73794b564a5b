"""`carevisit run --role`: a web process serves pages and webhooks and does no background work; a worker does the
background work and listens on no port."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.e2e.processes import ServiceProcess
from tests.ports import free_port, loopback_host


@pytest.fixture
def env(db_url: str, backend: str) -> dict[str, str]:
    if backend != "sqlite":
        pytest.skip("a smoke test of the command; several processes on PostgreSQL are tested in test_two_processes")
    host = loopback_host()  # free_port's close-then-bind race cannot hit it (tests/ports.py)
    return {"CAREVISIT_DATABASE_URL": db_url, "CAREVISIT_WEB_HOST": host, "CAREVISIT_WEB_PORT": str(free_port(host))}


async def test_a_web_process_serves_the_dashboard_and_starts_no_background_work(
    env: dict[str, str], tmp_path: Path
) -> None:
    web = ServiceProcess("web", env=env, cwd=tmp_path, role="web")
    await web.start()
    try:
        await web.wait_for_line("web server listening")
        url = f"http://{env['CAREVISIT_WEB_HOST']}:{env['CAREVISIT_WEB_PORT']}/healthz"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
    finally:
        assert await web.terminate() == 0, web.output
    assert "role: web" in web.output and "background work: OFF" in web.output
    assert " started" not in web.output.replace("web server", "")  # no part was started
    assert "Traceback" not in web.output


async def test_a_worker_does_the_background_work_and_listens_on_no_port(env: dict[str, str], tmp_path: Path) -> None:
    worker = ServiceProcess("worker", env=env, cwd=tmp_path, role="worker")
    await worker.start()
    try:
        await worker.wait_for_line("escalation started")
        await worker.wait_for_line("scheduler started as leader")
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.get(f"http://{env['CAREVISIT_WEB_HOST']}:{env['CAREVISIT_WEB_PORT']}/healthz")
    finally:
        assert await worker.terminate() == 0, worker.output
    assert "role: worker" in worker.output and "dashboard: OFF" in worker.output
    assert "Traceback" not in worker.output
