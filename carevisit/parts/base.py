"""What `carevisit run` needs from each long-running part: routes on the shared web app, start and stop."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web


class Part(Protocol):
    name: str

    def add_routes(self, app: web.Application) -> None:
        """Mount webhook or page routes on the service's one web app (called before it starts)."""
        ...

    async def start(self) -> None:
        """Start background work in the running loop; return promptly."""
        ...

    async def stop(self) -> None:
        """Stop background work, letting in-flight work finish or be safely resumed after a restart."""
        ...
