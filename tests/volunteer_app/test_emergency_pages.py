"""The volunteer app's emergency pages over HTTP: one tap opens (or joins) the incident as the bot does, the page
shows the numbers and the contacts as tel: links, then who the real escalation engine paged and who acknowledged;
the handling record; and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.incidents import acknowledge
from carevisit.escalation.pager import FakePager
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.escalation.timeline import Entry
from carevisit.storage.models import Incident, IncidentNote
from carevisit.volunteer_app.emergency_texts import TEXTS
from carevisit.volunteer_app.emergency_views import paging_of
from tests.volunteer_app.visit_pages_fixtures import World, csrf_of, photo_dir, server, sign_in, visible_text, world

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name


async def test_catalogues_have_the_same_words() -> None:
    assert set(TEXTS["zh_CN"]) == set(TEXTS["en"])


async def test_the_sos_page_shows_the_numbers_first_and_one_button_per_elder(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    page = await (await client.get("/v/sos")).text()
    for number in ("120", "110", "119"):
        assert f'href="tel:{number}"' in page
    assert page.index('href="tel:120"') < page.index("王秀英")
    text = visible_text(page)
    assert "🆘 王秀英" in text and "🆘 李桂兰" in text and "陈阿婆" not in text
    await client.close()


async def test_one_tap_opens_the_incident_and_a_second_joins_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, "/v/sos")
    first = await client.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)}, allow_redirects=False)
    incident = (await session.exec(select(Incident))).one()
    assert first.status == 303 and first.headers["Location"] == f"/v/incidents/{incident.id}"
    assert (incident.elder_id, incident.reporter_volunteer_id, incident.kind) == (world.elder.id, world.me.id, "urgent")
    second = await client.post("/v/sos", data={"csrf": csrf, "visit_id": str(world.visit.id)}, allow_redirects=False)
    assert second.headers["Location"] == f"/v/incidents/{incident.id}?joined=1"
    assert (await session.exec(select(func.count()).select_from(Incident))).one() == 1
    home = await (await client.get("/v/")).text()
    assert f'href="/v/incidents/{incident.id}"' in home and "王秀英的紧急情况正在处理" in visible_text(home)
    page = await (await client.get(second.headers["Location"])).text()
    assert "已有紧急情况在处理中" in page
    assert 'href="tel:+8613912345678"' in page and "王芳（女儿）" in visible_text(page)
    for number in ("120", "110", "119"):
        assert f'href="tel:{number}"' in page
    await client.close()


async def test_the_page_shows_who_was_paged_and_who_acknowledged(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, "/v/sos")
    response = await client.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)})
    incident = (await session.exec(select(Incident))).one()
    assert "还没有人确认收到" in visible_text(await response.text())
    esc = Escalation(
        sessions=session_factory,
        clock=clock,
        pager=FakePager(),
        config=EscalationConfig(policy=DEFAULT_POLICY),
        secret=None,
        public_url=None,
    )
    assert await run_cycle(esc) >= 1  # the engine pages contact 1 by SMS and call
    status = visible_text(await (await client.get(f"/v/incidents/{incident.id}/status")).text())
    assert "短信通知王芳（女儿）" in status and "电话通知王芳（女儿）" in status
    assert "13912345678" not in status  # the reporter sees who, not the number the engine dialled
    async with session_factory() as other:
        assert await acknowledge(
            other, clock=clock, incident_id=incident.id or 0, by=f"contact:{world.contact.id}", channel="link"
        )
        await other.commit()
    status = visible_text(await (await client.get(f"/v/incidents/{incident.id}/status")).text())
    assert "王芳（女儿）已确认收到" in status
    page = await (await client.get(f"/v/incidents/{incident.id}")).text()
    assert 'data-poll="/v/incidents/' in page and '<script src="/v/static/incident.js"' in page
    await client.close()


async def test_the_handling_record_is_saved_as_the_bot_saves_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, "/v/sos")
    await client.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)})
    incident = (await session.exec(select(Incident))).one()
    url = f"/v/incidents/{incident.id}/record"
    empty = await client.post(url, data={"csrf": csrf, "what_happened": " "})
    assert empty.status == 400
    record = {"csrf": csrf, "what_happened": "老人跌倒", "actions_taken": "拨打120", "outcome": "已送医"}
    response = await client.post(url, data=record, allow_redirects=False)
    assert response.status == 303
    note = (await session.exec(select(IncidentNote))).one()
    assert (note.what_happened, note.actions_taken, note.outcome) == ("老人跌倒", "拨打120", "已送医")
    assert note.author == f"volunteer:{world.me.id}"
    page = visible_text(await (await client.get(f"/v/incidents/{incident.id}?saved=1")).text())
    assert "处置记录已保存" in page and "拨打120" in page
    await client.close()


async def test_only_the_reporter_or_a_volunteer_of_the_community_sees_the_incident(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    me = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(me, "/v/sos")
    await me.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)})
    incident = (await session.exec(select(Incident))).one()
    other = await sign_in(server, session, clock, world.other)
    for path in (f"/v/incidents/{incident.id}", f"/v/incidents/{incident.id}/status", "/v/incidents/999"):
        response = await other.get(path)
        assert response.status == 404, path
        assert "王秀英" not in await response.text()
    their_csrf = await csrf_of(other, "/v/sos")
    record = {"csrf": their_csrf, "what_happened": "x"}
    assert (await other.post(f"/v/incidents/{incident.id}/record", data=record)).status == 404
    for field, value in (("elder_id", world.elder.id), ("visit_id", world.visit.id)):
        response = await other.post("/v/sos", data={"csrf": their_csrf, field: str(value)}, allow_redirects=False)
        assert response.status == 404, field
    assert (await other.post("/v/sos", data={"csrf": their_csrf})).status == 400
    assert (await me.post("/v/sos", data={"elder_id": str(world.second.id)})).status == 403  # no token
    assert (await session.exec(select(func.count()).select_from(IncidentNote))).one() == 0
    assert (await session.exec(select(func.count()).select_from(Incident))).one() == 1
    await me.close()
    await other.close()


def test_paging_keeps_the_latest_status_of_each_page_and_hides_internal_references() -> None:
    now = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    entries = [
        Entry(now, "opened", "张志愿", event="opened"),
        Entry(now, "queued", "王芳（女儿）", "sms", event="queued", to="139****5678", status=""),
        Entry(now, "status", "王芳（女儿）", "sms", event="status", to="139****5678", status="delivered"),
        Entry(now, "queued", "coordinator:7", "telegram", event="chat", status="pending"),
        Entry(now, "acknowledged", "王芳（女儿）", "link", event="acknowledged"),
    ]
    paging = paging_of(entries)
    assert [(p.who, p.channel, p.status) for p in paging.paged] == [
        ("王芳（女儿）", "sms", "delivered"),
        ("", "telegram", "pending"),
    ]
    assert paging.acknowledged and paging.acknowledged_by == "王芳（女儿）" and not paging.resolved


async def test_the_emergency_pages_in_english_when_the_volunteer_chose_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    world.me.language = "en"
    session.add(world.me)
    await session.commit()
    client = await sign_in(server, session, clock, world.me)
    sos = visible_text(await (await client.get("/v/sos")).text())
    assert "120 Ambulance" in sos and "Which elder?" in sos
    csrf = await csrf_of(client, "/v/sos")
    page = await client.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)})
    text = visible_text(await page.text())
    assert "Emergency · 王秀英" in text and "Nobody has acknowledged yet" in text and "{" not in text
    await client.close()
