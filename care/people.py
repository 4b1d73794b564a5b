"""Who is around an elder: their emergency contacts, and the coordinators over their community; and finding people
by the ids people know (the roster's 编号, a coordinator's user name), never a database integer."""

from __future__ import annotations

from sqlalchemy import String, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Area, Coordinator, Elder, EmergencyContact, Volunteer


async def coordinators_over(session: AsyncSession, *, community_id: int) -> list[Coordinator]:
    """Active coordinators linked to a chat whose area contains this community (community, street, district…)."""
    community = await session.get(Area, community_id)
    if community is None:
        return []
    # Area paths are prefixes of their children's: a coordinator's area contains the community when its path is
    # a prefix of the community's.
    coordinators = await session.exec(
        select(Coordinator)
        .join(Area, col(Area.id) == col(Coordinator.area_id))
        .where(
            col(Coordinator.active).is_(True),
            col(Coordinator.telegram_chat_id).is_not(None),
            literal(community.path, String).like(col(Area.path) + "%"),
        )
        .order_by(col(Coordinator.id))
    )
    return list(coordinators.all())


async def emergency_contacts(session: AsyncSession, *, elder_id: int) -> list[EmergencyContact]:
    """The contacts the roster lists, in position order (not those kept only as the history of a message)."""
    result = await session.exec(
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id, col(EmergencyContact.removed_at).is_(None))
        .order_by(col(EmergencyContact.position))
    )
    return list(result.all())


async def elder_by_roster_id(session: AsyncSession, *, external_id: str) -> Elder | None:
    """The elder with this roster id (编号), or None."""
    return (await session.exec(select(Elder).where(Elder.external_id == external_id.strip()))).first()


async def volunteer_by_roster_id(session: AsyncSession, *, external_id: str) -> Volunteer | None:
    """The volunteer with this roster id (编号), or None."""
    return (await session.exec(select(Volunteer).where(Volunteer.external_id == external_id.strip()))).first()


async def coordinator_by_username(session: AsyncSession, *, username: str) -> Coordinator | None:
    """The coordinator who signs in with this user name, or None (coordinators are not on a roster)."""
    return (await session.exec(select(Coordinator).where(Coordinator.username == username.strip()))).first()
