"""`carevisit run` as an operator starts it with nothing configured but the database: it says which parts are
off, serves, and a SIGTERM (what systemd or Docker sends) stops it cleanly with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.ports import free_port, loopback_host


async def test_carevisit_run_without_tokens_says_what_is_off_and_stops_on_sigterm(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("a smoke test of the command; the service itself runs on both backends in the stories")
    host = loopback_host()
    port = free_port(host)
    env = {name: value for name, value in os.environ.items() if not name.startswith("CAREVISIT_")}
    env |= {
        "CAREVISIT_DATABASE_URL": db_url,
        "CAREVISIT_WEB_HOST": host,
        "CAREVISIT_WEB_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "carevisit",
        "run",
        cwd=tmp_path,  # no stray .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(120):  # importing aiogram is slow here
            while True:
                try:
                    async with http.get(f"http://{host}:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert process.returncode is None, "carevisit run exited before serving"
                await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode == 0, text
    assert "telegram bot: OFF" in text and "CAREVISIT_TELEGRAM_TOKEN" in text
    assert "sms/voice: OFF" in text and "NO real SMS" in text
    assert "dashboard: on" in text and "scheduler: on" in text
    # No account yet: the log and the terminal both say so, with the command that makes the first one.
    assert "WARNING carevisit.commands.run: no active coordinator with a password" in text
    assert "carevisit coordinator add USERNAME --area AREA --role admin" in text
    assert "Traceback" not in text


async def test_carevisit_run_on_a_taken_port_says_so_without_a_traceback(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("a smoke test of the command; one backend is enough")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {name: value for name, value in os.environ.items() if not name.startswith("CAREVISIT_")}
        env |= {"CAREVISIT_DATABASE_URL": db_url, "CAREVISIT_WEB_PORT": str(port)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "carevisit",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(process.communicate(), 60)
    text = err.decode()
    assert process.returncode == 1, text
    assert f"Cannot listen on 127.0.0.1:{port}" in text and "CAREVISIT_WEB_PORT" in text
    assert "Traceback" not in text
