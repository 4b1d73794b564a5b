"""The volunteer services on a real, migrated SQLite database: a community with two volunteers, their elders'
visits, and coordinators reached on Telegram, on WeCom, and a read-only viewer."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Coordinator, Elder, Visit, Volunteer
from tests.factories import make_area_tree, make_contact, make_coordinator, make_elder, make_visit, make_volunteer

SHANGHAI = ZoneInfo("Asia/Shanghai")
TELEGRAM_CHAT, WECOM_USERID, VIEWER_CHAT = 2001, "zhangsan", 2003


@dataclass
class Field:
    volunteer: Volunteer
    other_volunteer: Volunteer
    on_telegram: Coordinator
    on_wecom: Coordinator
    viewer: Coordinator
    elder: Elder
    stranger_elder: Elder  # in a community the volunteers do not serve
    visit: Visit
    other_visit: Visit  # the other volunteer's


@pytest.fixture
def ctx(clock: FakeClock) -> FieldContext:
    return FieldContext(
        clock=clock, zone=SHANGHAI, policy=DEFAULT_POLICY, language="zh_CN", public_url="https://care.example.cn"
    )


@pytest.fixture
async def field(session: AsyncSession, clock: FakeClock) -> Field:
    areas = await make_area_tree(session)
    community = areas["community"]
    volunteer = await make_volunteer(session, clock, communities=[community], name="王志愿")
    other = await make_volunteer(session, clock, communities=[community], name="李志愿")
    on_telegram = await make_coordinator(
        session, clock, area=areas["street"], name="张主任", telegram_chat_id=TELEGRAM_CHAT, language="en"
    )
    on_wecom = await make_coordinator(session, clock, area=areas["district"], name="赵主任", wecom_userid=WECOM_USERID)
    viewer = await make_coordinator(
        session, clock, area=areas["street"], name="钱观察", telegram_chat_id=VIEWER_CHAT, role=CoordinatorRole.VIEWER
    )
    await make_coordinator(session, clock, area=areas["other_street"], name="孙主任", telegram_chat_id=2009)
    elder = await make_elder(session, clock, community=community, name="陈<奶奶>", address="科技园路1号 & 2栋")
    await make_contact(session, elder=elder, name="陈女儿")
    stranger = await make_elder(session, clock, community=areas["other_community"], name="周爷爷")
    visit = await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id)
    other_visit = await make_visit(session, clock, elder=elder, slot=2, volunteer_id=other.id)
    await session.commit()
    return Field(volunteer, other, on_telegram, on_wecom, viewer, elder, stranger, visit, other_visit)
