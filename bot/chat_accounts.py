"""Telegram accounts of volunteers and coordinators: redeeming an invitation, the volunteer's own shared contact
matched against the roster phone, and who a chat account is.

Every function adds to the caller's session and does not commit, unless it says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import BigInteger, bindparam, cast
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.care.invitations import InvitationProblem, InvitationRefused, claim_invitation
from carevisit.care.phones import InvalidPhone, parse_phone
from carevisit.storage.models import Coordinator, Volunteer


class LinkRefused(ValueError):
    """The link could not be made; `reason` says which friendly text to show."""

    def __init__(self, reason: LinkProblem) -> None:
        self.reason = reason
        super().__init__(str(reason))


class LinkProblem(StrEnum):
    INVALID = "invalid"  # unknown or already used: the same answer, so tokens can't be probed
    EXPIRED = "expired"
    NOT_YOUR_CONTACT = "not_your_contact"
    NO_MATCH = "no_match"
    TAKEN = "taken"  # the roster record is linked to another chat account


@dataclass(frozen=True, slots=True)
class Linked:
    role: str  # "volunteer" or "coordinator"
    person_id: int
    name: str


async def redeem_invitation(
    session: AsyncSession, *, clock: Clock, token: str, telegram_user_id: int, chat_id: int, language: str | None
) -> Linked:
    """Use a token once. Raises LinkRefused(INVALID) for unknown or used tokens, (EXPIRED) for old ones."""
    try:
        person = await claim_invitation(session, clock=clock, token=token, telegram_user_id=telegram_user_id)
    except InvitationRefused as refused:
        expired = refused.problem == InvitationProblem.EXPIRED
        raise LinkRefused(LinkProblem.EXPIRED if expired else LinkProblem.INVALID) from None
    if isinstance(person, Volunteer):
        return await _link_volunteer(
            session,
            clock=clock,
            volunteer=person,
            user_id=telegram_user_id,
            chat_id=chat_id,
            language=language,
            how="invitation",
        )
    return await _link_coordinator(
        session, clock=clock, coordinator=person, user_id=telegram_user_id, chat_id=chat_id, language=language
    )


async def link_by_contact(
    session: AsyncSession,
    *,
    clock: Clock,
    telegram_user_id: int,
    chat_id: int,
    contact_user_id: int | None,
    phone: str,
    region: str,
    language: str | None,
) -> Linked:
    """Link the sender to the active volunteer whose roster phone matches the contact they shared.

    The contact must be the sender's own (Telegram sets its user_id): forwarding someone else's card links nobody.
    """
    if contact_user_id != telegram_user_id:
        raise LinkRefused(LinkProblem.NOT_YOUR_CONTACT)
    digits = phone.strip()
    try:
        e164 = parse_phone(digits if digits.startswith("+") else f"+{digits}", region).e164
    except InvalidPhone:
        raise LinkRefused(LinkProblem.NO_MATCH) from None
    volunteer = (
        await session.exec(select(Volunteer).where(Volunteer.phone == e164, col(Volunteer.active).is_(True)))
    ).first()
    if volunteer is None:
        raise LinkRefused(LinkProblem.NO_MATCH)
    return await _link_volunteer(
        session,
        clock=clock,
        volunteer=volunteer,
        user_id=telegram_user_id,
        chat_id=chat_id,
        language=language,
        how="contact",
    )


async def _link_volunteer(
    session: AsyncSession,
    *,
    clock: Clock,
    volunteer: Volunteer,
    user_id: int,
    chat_id: int,
    language: str | None,
    how: str,
) -> Linked:
    if volunteer.telegram_user_id not in (None, user_id):
        raise LinkRefused(LinkProblem.TAKEN)
    # One chat account speaks for one volunteer: a previous link of this account to someone else is dropped.
    await session.exec(
        update(Volunteer)
        .where(col(Volunteer.telegram_user_id) == user_id, col(Volunteer.id) != volunteer.id)
        .values(telegram_user_id=None, telegram_chat_id=None)
    )
    now = clock.now()
    volunteer.telegram_user_id, volunteer.telegram_chat_id = user_id, chat_id
    volunteer.language = volunteer.language or language
    volunteer.linked_at, volunteer.updated_at = now, now
    session.add(volunteer)
    audit.record(
        session,
        clock=clock,
        actor=f"volunteer:{volunteer.id}",
        action="chat.link",
        entity="volunteer",
        entity_id=volunteer.id,
        details={"how": how},
    )
    assert volunteer.id is not None
    return Linked(role="volunteer", person_id=volunteer.id, name=volunteer.name)


async def _link_coordinator(
    session: AsyncSession,
    *,
    clock: Clock,
    coordinator: Coordinator,
    user_id: int,
    chat_id: int,
    language: str | None,
) -> Linked:
    if coordinator.telegram_user_id not in (None, user_id):
        raise LinkRefused(LinkProblem.TAKEN)
    await session.exec(
        update(Coordinator)
        .where(col(Coordinator.telegram_user_id) == user_id, col(Coordinator.id) != coordinator.id)
        .values(telegram_user_id=None, telegram_chat_id=None)
    )
    coordinator.telegram_user_id, coordinator.telegram_chat_id = user_id, chat_id
    coordinator.language = coordinator.language or language
    session.add(coordinator)
    audit.record(
        session,
        clock=clock,
        actor=f"coordinator:{coordinator.id}",
        action="chat.link",
        entity="coordinator",
        entity_id=coordinator.id,
        details={"how": "invitation"},
    )
    assert coordinator.id is not None
    return Linked(role="coordinator", person_id=coordinator.id, name=coordinator.name)


@dataclass(frozen=True, slots=True)
class ChatUser:
    """Who a chat account is, decided from the database on every update."""

    volunteer: Volunteer | None
    coordinator: Coordinator | None

    @property
    def linked(self) -> bool:
        return self.volunteer is not None or self.coordinator is not None

    @property
    def language(self) -> str | None:
        for person in (self.volunteer, self.coordinator):
            if person is not None and person.language:
                return person.language
        return None


# Built once: it runs on every update, and building the statement cost more CPU than running it. The account id
# is the driving row and each role is an indexed lookup on it (a full outer join between the two tables made
# SQLite scan both, every update).
_ME = select(cast(bindparam("user_id"), BigInteger).label("user_id")).subquery("me")
_CHAT_USER = (
    select(Volunteer, Coordinator)
    .select_from(_ME)
    .outerjoin(Volunteer, col(Volunteer.telegram_user_id) == _ME.c.user_id)
    .outerjoin(Coordinator, col(Coordinator.telegram_user_id) == _ME.c.user_id)
)


async def chat_user(session: AsyncSession, *, telegram_user_id: int) -> ChatUser:
    """One query for both roles (the account id is unique in each table): it runs on every update, and each round
    trip to the database counts there."""
    row = (await session.exec(_CHAT_USER, params={"user_id": telegram_user_id})).first()
    volunteer, coordinator = row if row is not None else (None, None)
    return ChatUser(
        volunteer=volunteer if volunteer is not None and volunteer.active else None,
        coordinator=coordinator if coordinator is not None and coordinator.active else None,
    )
