"""Stand-in for the emergency pages (helper "app-pages" replaces this module)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    pass
