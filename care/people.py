"""Who is around an elder: their emergency contacts, and the coordinators over their community; and finding people
by the ids people know (the roster's 编号, a coordinator's user name), never a database integer."""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, literal
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.ports import TELEGRAM, WECOM, Recipient
from carevisit.storage.models import Area, Coordinator, Elder, EmergencyContact, Volunteer


def chat_recipient(person: Volunteer | Coordinator) -> Recipient | None:
    """Where a chat message reaches this person: WeCom once linked (it works in mainland China, where Telegram is
    blocked), else their Telegram chat, else nowhere."""
    if person.wecom_userid:
        return Recipient(WECOM, person.wecom_userid)
    if person.telegram_chat_id is not None:
        return Recipient(TELEGRAM, str(person.telegram_chat_id))
    return None


def reachable(model: type[Volunteer] | type[Coordinator]) -> ColumnElement[bool]:
    """The SQL condition for `chat_recipient(person) is not None`."""
    return or_(col(model.wecom_userid).is_not(None), col(model.telegram_chat_id).is_not(None))


async def coordinators_over(session: AsyncSession, *, community_id: int) -> list[Coordinator]:
    """Active coordinators reachable by chat (`chat_recipient`) whose area contains this community (community,
    street, district…)."""
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
            reachable(Coordinator),
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
