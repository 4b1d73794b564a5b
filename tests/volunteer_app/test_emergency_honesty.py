"""What a user trial of the emergency pages found: paging that read "sent" when the console pager sent nothing, an
SOS list that could leave an elder out, a wrong tap that could not be undone, and the demo's drills."""

from __future__ import annotations

import dataclasses

from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.setup import build_dispatcher
from carevisit.care.clock import FakeClock
from carevisit.dashboard.display import step_sentence
from carevisit.dashboard.texts import translator
from carevisit.escalation.config_file import EscalationConfig
from carevisit.escalation.context import Escalation
from carevisit.escalation.engine import run_cycle
from carevisit.escalation.incidents import acknowledge
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import ConsolePager, FakePager, Pager
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.escalation.timeline import incident_timeline
from carevisit.fieldwork.context import FieldContext
from carevisit.fieldwork.emergencies import raise_emergency
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Incident, OutboxMessage
from carevisit.web import _field_context
from tests.factories import make_elder
from tests.volunteer_app.conftest import runtime_for
from tests.volunteer_app.visit_pages_fixtures import (
    ZONE,
    World,
    csrf_of,
    photo_dir,
    server,
    sign_in,
    visible_text,
    world,
)

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name


async def _page(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, pager: Pager) -> None:
    """One engine cycle (the first step's pages queued), then the outbox worker sends them through `pager`."""
    esc = _escalation(sessions, clock, pager)
    assert await run_cycle(esc) >= 1
    await OutboxWorker(esc).drain()


def _escalation(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, pager: Pager) -> Escalation:
    return Escalation(
        sessions=sessions,
        clock=clock,
        pager=pager,
        config=EscalationConfig(policy=DEFAULT_POLICY),
        secret=None,
        public_url=None,
    )


async def _raise(client, world: World) -> int:  # type: ignore[no-untyped-def]
    csrf = await csrf_of(client, "/v/sos")
    response = await client.post("/v/sos", data={"csrf": csrf, "elder_id": str(world.elder.id)}, allow_redirects=False)
    assert response.status == 303
    return int(response.headers["Location"].rsplit("/", 1)[1].split("?")[0])


async def test_the_console_pager_pages_read_not_sent_on_the_app_and_the_dashboard(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
) -> None:
    client = await sign_in(server, session, clock, world.me)
    incident_id = await _raise(client, world)
    opened = visible_text(await (await client.get(f"/v/incidents/{incident_id}")).text())
    assert "正在通知" in opened and "已通知" not in opened  # nobody is paged yet
    await _page(session_factory, clock, ConsolePager())
    status = visible_text(await (await client.get(f"/v/incidents/{incident_id}/status")).text())
    assert "短信通知王芳（女儿）：未真正发出" in status and "电话通知王芳（女儿）：未真正发出" in status
    assert "已发出" not in status and "没有配置短信和电话服务" in status and "请您直接拨打" in status
    rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.incident_id == incident_id))).all()
    assert rows and all(row.provider_sid for row in rows)  # accepted as far as the engine knows: it moves on
    t = translator("zh_CN")
    sentences = [step_sentence(t, entry) for entry in await incident_timeline(session, incident_id=incident_id)]
    delivery = [s for s in sentences if s.startswith(("短信通知", "电话通知"))]
    assert delivery and all("未真正发出（未配置短信/电话服务）" in s for s in delivery)
    assert not any("已发出" in s for s in sentences)
    await client.close()


async def test_a_providers_page_still_reads_as_its_status(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
) -> None:
    client = await sign_in(server, session, clock, world.me)
    incident_id = await _raise(client, world)
    await _page(session_factory, clock, FakePager())
    status = visible_text(await (await client.get(f"/v/incidents/{incident_id}/status")).text())
    assert "未真正发出" not in status and "没有配置短信和电话服务" not in status
    assert "短信通知王芳（女儿）：" in status
    await client.close()


async def test_the_sos_list_puts_my_elders_first_and_leaves_nobody_out(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    # 60 more elders in my community, all sorting before mine by code point: a cut at 50 lost 王秀英 and 李桂兰.
    for n in range(60):
        await make_elder(session, clock, community=world.areas["community"], name=f"丁{n:02d}")
    last = await make_elder(session, clock, community=world.areas["community"], name="龘老人")
    await session.commit()
    client = await sign_in(server, session, clock, world.me)
    for path in ("/v/sos", "/v/problems/new"):
        page = visible_text(await (await client.get(path)).text())
        mine = page.index("您本月负责探访的老人")
        others = page.index("社区里的其他老人")
        assert mine < page.index("王秀英") < others and mine < page.index("李桂兰") < others, path
        assert all(f"丁{n:02d}" in page[others:] for n in range(60)) and last.name in page[others:], path
        assert "陈阿婆" not in page  # another community's elder
    await client.close()


async def test_the_reporter_cancels_a_false_alarm_and_paging_stops_with_an_all_clear(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
) -> None:
    client = await sign_in(server, session, clock, world.me)
    incident_id = await _raise(client, world)
    await _page(session_factory, clock, FakePager())  # contact 1 paged by SMS and call
    page = await (await client.get(f"/v/incidents/{incident_id}")).text()
    assert "误报，取消" in visible_text(page) and f'action="/v/incidents/{incident_id}/cancel"' in page
    csrf = await csrf_of(client, f"/v/incidents/{incident_id}")
    response = await client.post(f"/v/incidents/{incident_id}/cancel", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    incident = await session.get(Incident, incident_id, populate_existing=True)
    assert incident is not None and incident.status == IncidentStatus.RESOLVED and incident.next_step_at is None
    assert incident.resolved_by == f"volunteer:{world.me.id}"
    clear = (await session.exec(select(OutboxMessage).where(OutboxMessage.purpose == "all_clear"))).all()
    assert [row.to_address for row in clear] == ["+8613912345678"]
    page = visible_text(await (await client.get(f"/v/incidents/{incident_id}")).text())
    assert "这次紧急情况已结束" in page and "已结束，不再通知任何人" in page and "误报，取消" not in page
    assert "正在通知" not in page and "还没有人确认收到" not in page
    again = await client.post(f"/v/incidents/{incident_id}/cancel", data={"csrf": csrf})
    assert again.status == 400  # nothing left to cancel; nothing changes
    await client.close()


async def test_only_the_reporter_may_cancel_and_only_before_anyone_acknowledged(
    server: TestServer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    world: World,
) -> None:
    client = await sign_in(server, session, clock, world.me)
    incident_id = await _raise(client, world)
    neighbour = await sign_in(server, session, clock, world.other)
    csrf = await csrf_of(neighbour, "/v/sos")
    refused = await neighbour.post(f"/v/incidents/{incident_id}/cancel", data={"csrf": csrf})
    assert refused.status == 404  # not theirs to see
    async with session_factory() as other:
        assert await acknowledge(
            other, clock=clock, incident_id=incident_id, by=f"contact:{world.contact.id}", channel="link"
        )
        await other.commit()
    page = await (await client.get(f"/v/incidents/{incident_id}")).text()
    assert "误报，取消" not in visible_text(page)
    csrf = await csrf_of(client, f"/v/incidents/{incident_id}")
    late = await client.post(f"/v/incidents/{incident_id}/cancel", data={"csrf": csrf})
    assert late.status == 400 and "不能再取消" in visible_text(await late.text())
    incident = await session.get(Incident, incident_id, populate_existing=True)
    assert incident is not None and incident.status == IncidentStatus.ACKNOWLEDGED
    await client.close()
    await neighbour.close()


async def test_phone_numbers_read_nationally_and_dial_in_e164(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    incident_id = await _raise(client, world)
    page = await (await client.get(f"/v/incidents/{incident_id}")).text()
    assert 'href="tel:+8613912345678"' in page
    assert "139 1234 5678" in visible_text(page) and "+8613912345678" not in visible_text(page)
    await client.close()


async def test_a_drill_context_opens_drills_and_the_page_says_so(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    ctx = FieldContext(clock=clock, zone=ZONE, policy=DEFAULT_POLICY, language="zh_CN", drill=True)
    raised = await raise_emergency(session, ctx, volunteer=world.me, elder=world.second)
    await session.commit()
    assert raised.incident.is_drill
    client = await sign_in(server, session, clock, world.me)
    page = visible_text(await (await client.get(f"/v/incidents/{raised.incident.id}")).text())
    assert "这是演练，不是真的紧急情况" in page
    home = visible_text(await (await client.get("/v/")).text())
    assert "李桂兰的紧急情况演练正在进行" in home
    plain = FieldContext(clock=clock, zone=ZONE, policy=DEFAULT_POLICY, language="zh_CN")
    real = await raise_emergency(session, plain, volunteer=world.me, elder=world.elder)
    assert not real.incident.is_drill
    await client.close()


def test_the_service_opens_drills_only_when_the_demo_says_so(engine: AsyncEngine, clock: FakeClock) -> None:
    rt = runtime_for(engine, clock)
    assert _field_context(rt).drill is False
    assert _bot_field(clock, drill=False).drill is False
    demo = dataclasses.replace(rt, drill_emergencies=True)  # what `carevisit demo` serves
    assert _field_context(demo).drill is True
    assert _bot_field(clock, drill=demo.drill_emergencies).drill is True


def _bot_field(clock: FakeClock, *, drill: bool) -> FieldContext:
    """The FieldContext the bot's dispatcher hands its handlers."""
    dp = build_dispatcher(sessions=None, clock=clock, zone=ZONE, drill=drill)  # type: ignore[arg-type]
    return dp.workflow_data["field"]
