"""Test data with explicit keyword overrides: `await make_elder(session, clock, risk=RiskLevel.HIGH)`."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import child_path
from carevisit.care.clock import Clock
from carevisit.care.ports import TELEGRAM, Recipient
from carevisit.storage.enums import AreaLevel, ElderClass, PhoneKind, RiskLevel, VisitMode
from carevisit.storage.models import (
    Area,
    Coordinator,
    Elder,
    EmergencyContact,
    Organisation,
    Visit,
    Volunteer,
    VolunteerCommunity,
)

_ids = itertools.count(1)


def telegram(chat_id: int) -> Recipient:
    """A Telegram chat as a chat-message recipient."""
    return Recipient(TELEGRAM, str(chat_id))


def _next() -> int:
    return next(_ids)


async def make_area(
    session: AsyncSession, *, code: str, name: str, level: AreaLevel, parent: Area | None = None
) -> Area:
    area = Area(
        code=code, name=name, level=level, parent_id=parent.id if parent else None, path=child_path(parent, code)
    )
    session.add(area)
    await session.flush()
    return area


async def make_area_tree(session: AsyncSession) -> dict[str, Area]:
    """广东省 > 深圳市 > 南山区 > 粤海街道 > {科技园社区, 高新社区}; 沙河街道 > 华侨城社区."""
    province = await make_area(session, code="44", name="广东省", level=AreaLevel.PROVINCE)
    city = await make_area(session, code="4403", name="深圳市", level=AreaLevel.CITY, parent=province)
    district = await make_area(session, code="440305", name="南山区", level=AreaLevel.DISTRICT, parent=city)
    street = await make_area(session, code="440305001", name="粤海街道", level=AreaLevel.STREET, parent=district)
    other_street = await make_area(session, code="440305002", name="沙河街道", level=AreaLevel.STREET, parent=district)
    tech = await make_area(session, code="440305001001", name="科技园社区", level=AreaLevel.COMMUNITY, parent=street)
    hightech = await make_area(session, code="440305001002", name="高新社区", level=AreaLevel.COMMUNITY, parent=street)
    octc = await make_area(
        session, code="440305002001", name="华侨城社区", level=AreaLevel.COMMUNITY, parent=other_street
    )
    return {
        "province": province,
        "city": city,
        "district": district,
        "street": street,
        "other_street": other_street,
        "community": tech,
        "community2": hightech,
        "other_community": octc,
    }


async def make_organisation(session: AsyncSession, *, name: str | None = None, **overrides: Any) -> Organisation:
    organisation = Organisation(name=name or f"阳光社工服务中心{_next()}", **overrides)
    session.add(organisation)
    await session.flush()
    return organisation


async def make_elder(session: AsyncSession, clock: Clock, *, community: Area, **overrides: Any) -> Elder:
    n = _next()
    now = clock.now()
    values: dict[str, Any] = {
        "external_id": f"E{n:06d}",
        "name": f"老人{n}",
        "birth_date": date(1940, 5, 1),
        "address": f"科技园路{n}号",
        "community_id": community.id,
        "classes": int(ElderClass.ALONE),
        "risk": RiskLevel.LOW,
        "enrolled_on": date(2026, 1, 1),
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    elder = Elder(**values)
    session.add(elder)
    await session.flush()
    return elder


async def make_contact(
    session: AsyncSession, *, elder: Elder, position: int = 1, phone: str | None = None, **overrides: Any
) -> EmergencyContact:
    values: dict[str, Any] = {
        "elder_id": elder.id,
        "position": position,
        "name": f"家属{_next()}",
        "relation": "女儿",
        "phone": phone or f"+86139{_next():08d}",
        "phone_kind": PhoneKind.MOBILE,
    }
    values.update(overrides)
    contact = EmergencyContact(**values)
    session.add(contact)
    await session.flush()
    return contact


async def make_volunteer(
    session: AsyncSession, clock: Clock, *, communities: list[Area], **overrides: Any
) -> Volunteer:
    n = _next()
    now = clock.now()
    values: dict[str, Any] = {
        "external_id": f"V{n:05d}",
        "name": f"志愿者{n}",
        "phone": f"+86137{n:08d}",
        "phone_kind": PhoneKind.MOBILE,
        "capacity": 20,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    volunteer = Volunteer(**values)
    session.add(volunteer)
    await session.flush()
    for community in communities:
        session.add(VolunteerCommunity(volunteer_id=volunteer.id, area_id=community.id))
    await session.flush()
    return volunteer


async def make_coordinator(session: AsyncSession, clock: Clock, *, area: Area, **overrides: Any) -> Coordinator:
    n = _next()
    values: dict[str, Any] = {"name": f"社区工作人员{n}", "area_id": area.id, "created_at": clock.now()}
    values.update(overrides)
    coordinator = Coordinator(**values)
    session.add(coordinator)
    await session.flush()
    return coordinator


async def make_visit(session: AsyncSession, clock: Clock, *, elder: Elder, **overrides: Any) -> Visit:
    now = clock.now()
    values: dict[str, Any] = {
        "elder_id": elder.id,
        "month": "2026-03",
        "slot": 1,
        "mode": VisitMode.HOME,
        "window_start": date(2026, 3, 1),
        "window_end": date(2026, 3, 31),
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    visit = Visit(**values)
    session.add(visit)
    await session.flush()
    return visit
