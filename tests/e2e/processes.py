"""Real `carevisit run` processes for tests: started with an environment of their own, their output read as it
comes, stopped with SIGTERM or killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path


class ServiceProcess:
    def __init__(self, name: str, *, env: dict[str, str], cwd: Path, role: str = "all") -> None:
        self.name = name
        self.lines: list[str] = []
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("CAREVISIT_")} | env
        self._env["PYTHONUNBUFFERED"] = "1"
        self._cwd = cwd
        self._role = role
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._new_line = asyncio.Event()

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "carevisit",
            "run",
            "--role",
            self._role,
            cwd=self._cwd,  # no stray .env
            env=self._env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for raw in self._process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._new_line.set()
        self._new_line.set()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    async def wait_for_line(self, text: str, *, seconds: float = 120) -> str:
        """The first output line containing `text` (importing aiogram is slow on these machines)."""
        async with asyncio.timeout(seconds):
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"{self.name} exited before printing {text!r}:\n{self.output}")
                self._new_line.clear()
                await self._new_line.wait()

    async def terminate(self, *, seconds: float = 30) -> int:
        """SIGTERM, as a supervisor stops it; returns the exit code."""
        return await self._end(signal.SIGTERM, seconds)

    async def kill(self) -> int:
        """SIGKILL: the process dies wherever it is, with nothing cleaned up."""
        return await self._end(signal.SIGKILL, 10)

    async def _end(self, sig: signal.Signals, seconds: float) -> int:
        assert self._process is not None
        if self._process.returncode is None:
            self._process.send_signal(sig)
        try:
            async with asyncio.timeout(seconds):
                code = await self._process.wait()
                if self._reader is not None:
                    await self._reader
        finally:
            if self._process.returncode is None:
                self._process.kill()
                await self._process.wait()
        return code
