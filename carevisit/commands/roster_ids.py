"""Finding an elder by the id a community worker knows: the roster's 编号, or — for a roster whose key is the
ID-card number — that number, matched by its keyed hash (the number itself is never stored, `roster.fields`)."""

from __future__ import annotations

from datetime import date

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.people import elder_by_roster_id
from carevisit.roster.fields import IdCard, parse_id_card
from carevisit.roster.problems import InvalidCell
from carevisit.storage import installation
from carevisit.storage.models import Elder


async def find_elder(session: AsyncSession, key: str, *, today: date) -> Elder | None:
    elder = await elder_by_roster_id(session, external_id=key)
    card = _id_card(key, today=today) if elder is None else None
    if card is None:
        return elder
    secret = await installation.secret(await session.connection(), installation.ID_CARD_KEY)
    found = await session.exec(select(Elder).where(Elder.id_card_hash == card.keyed_hash(secret)))
    return found.first()


def shown(key: str, *, today: date) -> str:
    """The key as it may be printed: an ID-card number only masked."""
    card = _id_card(key, today=today)
    return card.masked if card is not None else key


def _id_card(key: str, *, today: date) -> IdCard | None:
    try:
        return parse_id_card(key, today=today)
    except InvalidCell:
        return None
