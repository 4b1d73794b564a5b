"""`carevisit run` as an operator meets it: every part's routes are served, parts start and stop in order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.config import Settings
from carevisit.service import serve
from tests.ports import free_port, loopback_host


@dataclass
class RecordingPart:
    name: str
    events: list[str] = field(default_factory=list)

    def add_routes(self, app: web.Application) -> None:
        async def hello(_request: web.Request) -> web.Response:
            return web.Response(text=f"hello from {self.name}")

        app.router.add_get(f"/{self.name}", hello)

    async def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


async def test_serve_mounts_each_part_and_stops_them_in_reverse(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    host = loopback_host()
    port = free_port(host)
    settings = Settings(web_host=host, web_port=port)
    rt = Runtime(settings=settings, clock=clock, engine=engine, sessions=session_factory)
    events: list[str] = []
    parts = [RecordingPart("alpha", events), RecordingPart("beta", events)]
    ready = asyncio.Event()
    stop = asyncio.Event()
    service = asyncio.create_task(serve(rt, parts=parts, started=ready.set, stop=stop))
    await asyncio.wait_for(ready.wait(), 10)

    async with aiohttp.ClientSession(f"http://{host}:{port}") as http:
        async with http.get("/beta") as response:
            assert await response.text() == "hello from beta"
        async with http.get("/healthz") as response:
            assert response.status == 200

    stop.set()
    await asyncio.wait_for(service, 10)
    assert events == ["start alpha", "start beta", "stop beta", "stop alpha"]
