from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.care.ports import WECOM, Button, ChatMessage, Recipient
from carevisit.config import Settings, load_settings
from carevisit.escalation import incidents
from carevisit.parts.wecom import WeComPart
from carevisit.policies import escalation_config
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Coordinator, Elder, Incident, Volunteer, WeComEvent
from carevisit.wecom.callback import CALLBACK_PATH
from carevisit.wecom.notifier import WeComNotifier
from tests.factories import make_area_tree, make_coordinator, make_elder, make_volunteer
from tests.wecom.fake_wecom import FakeWeCom

MEMBERS = ("zhangwei", "lina", "wangfang")


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom(clock)
    for userid in MEMBERS:
        fake.add_member(userid, mobile="13900000000")
    await fake.start()
    yield fake
    await fake.close()


# --- carevisit's side: the callback served over HTTP as `carevisit run` mounts it, on a database with people ---

SECRET_KEY = "wecom-tests-secret-key-long-enough"
PUBLIC_URL = "https://carevisit.example.cn"
COORDINATOR = "zhaoli"  # a coordinator of the street the elder lives in
VIEWER = "chenjing"  # a read-only account of the same street
OTHER_AREA = "sunyang"  # a coordinator of the neighbouring street
VOLUNTEER = "zhangwei"
STRANGER = "wangfang"  # a member of the corp linked to nobody


@dataclass
class World:
    elder: Elder
    volunteer: Volunteer
    coordinator: Coordinator
    viewer: Coordinator
    other_area: Coordinator
    areas: dict[str, Area]


@dataclass
class Served:
    """The WeCom part's routes on a real port, the fake WeCom whose callbacks reach them, and the database."""

    url: str
    fake: FakeWeCom
    part: WeComPart
    rt: Runtime
    world: World

    async def open_incident(self) -> int:
        async with self.rt.sessions() as session:
            incident = await incidents.open_incident(
                session,
                clock=self.rt.clock,
                policy=escalation_config(self.rt.settings).policy,
                elder_id=self.world.elder.id,  # type: ignore[arg-type]
                kind="fall",
                reporter_volunteer_id=self.world.volunteer.id,
            )
            await session.commit()
            assert incident.id is not None
            return incident.id

    async def incident(self, incident_id: int) -> Incident:
        async with self.rt.sessions() as session:
            found = await session.get(Incident, incident_id)
            assert found is not None
            return found

    async def send_card(self, userid: str, incident_id: int) -> tuple[str, str]:
        """The coordinator's card, sent through the real notifier: (task_id, the Acknowledge key)."""
        key = f"i:a:{incident_id}"
        message = ChatMessage(
            to=Recipient(WECOM, userid),
            text="<b>🆘 紧急情况</b>\n王秀英 · 跌倒\n科技园社区",
            buttons=((Button("确认处理", key),),),
            link=f"{PUBLIC_URL}/incidents/{incident_id}",
        )
        await WeComNotifier(self.part.client()).send(message)
        card = [d for d in self.fake.delivered_to(userid) if d.msgtype == "template_card"][-1]
        return str(card.message["task_id"]), key

    async def rows(self) -> int:
        async with self.rt.sessions() as session:
            return len((await session.exec(select(WeComEvent.id))).all())


def wecom_settings(db_url: str, fake: FakeWeCom, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "wecom_corp_id": fake.corp_id,
        "wecom_agent_id": fake.agent_id,
        "wecom_secret": fake.secret,
        "wecom_token": fake.token,
        "wecom_aes_key": fake.aes_key,
        "wecom_api_base": fake.api_base,
        "public_url": PUBLIC_URL,
        "secret_key": SECRET_KEY,
    }
    return load_settings(**(values | overrides))


async def make_world(session: AsyncSession, clock: FakeClock) -> World:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"], name="王秀英")
    volunteer = await make_volunteer(
        session, clock, communities=[areas["community"]], name="张伟", wecom_userid=VOLUNTEER
    )
    coordinator = await make_coordinator(
        session, clock, area=areas["street"], name="赵丽", wecom_userid=COORDINATOR, phone="+8613811110001"
    )
    viewer = await make_coordinator(
        session, clock, area=areas["street"], name="陈静", role=CoordinatorRole.VIEWER, wecom_userid=VIEWER
    )
    other = await make_coordinator(session, clock, area=areas["other_street"], name="孙阳", wecom_userid=OTHER_AREA)
    await session.commit()
    return World(elder, volunteer, coordinator, viewer, other, areas)


@pytest.fixture
async def served(
    wecom: FakeWeCom,
    clock: FakeClock,
    db_url: str,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> AsyncIterator[Served]:
    for userid in (COORDINATOR, VIEWER, OTHER_AREA):
        wecom.add_member(userid)
    world = await make_world(session, clock)
    rt = Runtime(settings=wecom_settings(db_url, wecom), clock=clock, engine=engine, sessions=session_factory)
    part = WeComPart(rt)
    app = web.Application()
    part.add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Served(f"http://127.0.0.1:{server.port}{CALLBACK_PATH}", wecom, part, rt, world)
    finally:
        await server.close()  # runs the app's cleanup: card updates under way finish, the client closes
