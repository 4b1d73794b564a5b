"""Small pages for a weak 3G connection: each page of a confirmation, with everything it loads (style sheets,
scripts), stays a few kilobytes — no framework download. Sizes, not times: a count of bytes is the same on any
machine."""

from __future__ import annotations

import re

import aiohttp
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from tests.volunteer_app.visit_pages_fixtures import World, sign_in

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name
from tests.volunteer_app.visit_pages_fixtures import photo_dir, server, world

# Uncompressed bytes of a page and what it loads: under a second on a slow 3G line (~400 kbit/s). Today ~8 KB.
PAGE_BUDGET = 32 * 1024


async def _weight(client: aiohttp.ClientSession, path: str) -> int:
    page = await (await client.get(path)).read()
    assets = set(re.findall(rb'(?:href|src)="(/v/static/[^"]+)"', page))
    total = len(page)
    for asset in assets:
        response = await client.get(asset.decode())
        assert response.status == 200, asset
        total += len(await response.read())
    return total


async def test_every_page_of_a_confirmation_is_small_with_all_it_loads(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    visit = world.visit.id
    for path in (
        "/v/",
        f"/v/visits/{visit}",
        f"/v/visits/{visit}/how?mode=home",
        f"/v/visits/{visit}/checklist?mode=home",
        "/v/sos",
    ):
        weight = await _weight(client, path)
        assert weight < PAGE_BUDGET, f"{path}: {weight} bytes"
    await client.close()
