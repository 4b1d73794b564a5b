"""The done page after a user trial: a photo is the visit's the moment its upload succeeds, the page shows what was
kept (the note, the photo), the problems line stays after 保存, and a second 保存 does not keep the note twice."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.models import Visit
from tests.volunteer_app.visit_pages_fixtures import (
    PNG,
    World,
    csrf_of,
    form_of,
    photo_dir,
    server,
    sign_in,
    visible_text,
    world,
)

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name


async def _visit(session: AsyncSession, visit_id: int | None) -> Visit:
    visit = await session.get(Visit, visit_id, populate_existing=True)
    assert visit is not None
    return visit


async def _confirmed(client: aiohttp.ClientSession, visit_id: int | None, **fields: str) -> str:
    csrf = await csrf_of(client, "/v/sos")
    data = {"csrf": csrf, "mode": "home", "outcome": "well", "all_fine": "1", **fields}
    response = await client.post(f"/v/visits/{visit_id}/confirm", data=data)
    assert response.status == 200
    return await response.text()


async def _upload(client: aiohttp.ClientSession, hidden: dict[str, str], visit_id: str) -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("upload_id", hidden["upload_id"])
    form.add_field("visit_id", visit_id)
    form.add_field("photo", PNG, filename="IMG_0003.png", content_type="image/png")
    return await client.post("/v/photos", data=form, headers={"X-CSRF-Token": hidden["csrf"]})


async def test_an_uploaded_photo_is_the_visits_without_tapping_save(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    done = await _confirmed(client, world.visit.id)
    assert f'data-visit="{world.visit.id}"' in done  # the page's script sends the visit with the photo
    _action, hidden = form_of(done, f"/v/visits/{world.visit.id}/details")
    response = await _upload(client, hidden, str(world.visit.id))
    assert response.status == 200
    ref = (await response.json())["ref"]
    assert (await _visit(session, world.visit.id)).photo_ref == ref  # kept now: 返回我的探访 loses nothing
    page = await (await client.get(f"/v/visits/{world.visit.id}/done")).text()
    name = ref.rsplit("/", 1)[1]
    assert f'src="/v/photos/{name}"' in page
    photo = await client.get(f"/v/photos/{name}")
    assert photo.status == 200 and await photo.read() == PNG
    await client.close()


async def test_a_photo_cannot_be_attached_to_another_volunteers_visit(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    done = await _confirmed(client, world.visit.id)
    _action, hidden = form_of(done, f"/v/visits/{world.visit.id}/details")
    refused = await _upload(client, hidden, str(world.others_visit.id))
    assert refused.status == 404
    assert (await _visit(session, world.others_visit.id)).photo_ref is None
    await client.close()


async def test_the_saved_note_shows_the_problems_line_stays_and_a_second_save_keeps_it_once(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, "/v/sos")
    data = {"csrf": csrf, "mode": "home", "outcome": "problem", "concern_family": "1", "done": "1"}
    done = await (await client.post(f"/v/visits/{world.visit.id}/confirm", data=data)).text()
    assert "已把 1 个问题转给" in visible_text(done)
    _action, hidden = form_of(done, f"/v/visits/{world.visit.id}/details")
    url = f"/v/visits/{world.visit.id}/details"
    first = await client.post(url, data={**hidden, "note": "女儿下周回来"})
    again = await client.post(url, data={**hidden, "note": "女儿下周回来"})  # 保存 tapped twice
    page = visible_text(await again.text())
    assert first.status == again.status == 200
    assert "已保存" in page and "已把 1 个问题转给" in page and "女儿下周回来" in page
    assert (await _visit(session, world.visit.id)).note == "女儿下周回来"
    await client.post(url, data={**hidden, "note": "需要送米"})  # a new note is still added
    assert (await _visit(session, world.visit.id)).note == "女儿下周回来\n需要送米"
    await client.close()
