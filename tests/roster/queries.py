"""Reading back what an import wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Area, Elder, EmergencyContact


async def count(session: AsyncSession, model: Any) -> int:
    return int((await session.exec(select(func.count()).select_from(model))).one())


async def elder(session: AsyncSession, external_id: str) -> Elder:
    return (await session.exec(select(Elder).where(Elder.external_id == external_id))).one()


async def contacts(session: AsyncSession, elder_id: int | None) -> list[EmergencyContact]:
    query = select(EmergencyContact).where(EmergencyContact.elder_id == elder_id).order_by(EmergencyContact.position)
    return list((await session.exec(query)).all())


async def area_chain(session: AsyncSession, area_id: int) -> list[str]:
    """Names from the province down to this area."""
    names: list[str] = []
    current: int | None = area_id
    while current is not None:
        area = await session.get(Area, current)
        assert area is not None
        names.insert(0, area.name)
        current = area.parent_id
    return names
