"""Choosing an elder (🆘, 计划外探访): the volunteer's own first, nobody cut off, a search once the list is long."""

from __future__ import annotations

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.volunteer_app.elder_choice import SEARCH_FROM
from tests.factories import make_elder
from tests.volunteer_app.visit_pages_fixtures import World, photo_dir, server, sign_in, visible_text, world

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name


async def _more_elders(session: AsyncSession, clock: FakeClock, world: World, n: int) -> list[str]:
    names = [f"丁{chr(0x4E00 + k)}{chr(0x4E00 + k * 7 % 97)}" for k in range(n)]
    for name in names:
        await make_elder(session, clock, community=world.areas["community"], name=name)
    await session.commit()
    return names


async def test_a_long_list_offers_a_search_that_narrows_it_and_keeps_the_numbers(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    assert 'name="q"' not in await (await client.get("/v/sos")).text()  # two elders: read, don't type
    await _more_elders(session, clock, world, SEARCH_FROM)
    page = await (await client.get("/v/sos")).text()
    assert 'name="q"' in page
    found = visible_text(await (await client.get("/v/sos", params={"q": "王秀"})).text())
    assert "王秀英" in found and "李桂兰" not in found and "丁" not in found
    assert "120" in found  # the numbers stay on top whatever was searched
    nobody = visible_text(await (await client.get("/v/sos", params={"q": "不存在"})).text())
    assert "没有找到老人" in nobody
    await client.close()


async def test_an_unplanned_visit_can_be_for_any_elder_of_the_communities_own_first(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    names = await _more_elders(session, clock, world, 60)
    client = await sign_in(server, session, clock, world.me)
    text = visible_text(await (await client.get("/v/unplanned")).text())
    assert all(name in text for name in names)  # no cut at 50
    assert text.index("王秀英") < text.index(names[0])  # 丁… sorts first by name: this month's own come first
    assert "陈阿婆" not in text  # another community's
    await client.close()


async def test_the_problem_form_offers_the_same_search_once_its_list_is_long(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    await _more_elders(session, clock, world, SEARCH_FROM)
    client = await sign_in(server, session, clock, world.me)
    assert 'action="/v/problems/new"' in await (await client.get("/v/problems/new")).text()
    page = await (await client.get("/v/problems/new", params={"q": "李桂"})).text()
    text = visible_text(page)
    assert "李桂兰" in text and "王秀英" not in text
    assert "没有找到老人" in visible_text(await (await client.get("/v/problems/new", params={"q": "不存在"})).text())
    await client.close()
