"""One-time, expiring invitations that connect a chat account to a volunteer or coordinator.

Only a token's hash is stored. Every function adds to the caller's session and does not commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from enum import StrEnum

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.storage.models import ChatInvitation, Coordinator, Volunteer

DEFAULT_VALIDITY = timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invitation(
    session: AsyncSession,
    *,
    clock: Clock,
    created_by: str,
    volunteer_id: int | None = None,
    coordinator_id: int | None = None,
    valid_for: timedelta = DEFAULT_VALIDITY,
) -> str:
    """A new one-time token for a deep link (`/start <token>`); only its hash is stored. Raises LookupError for an
    unknown or inactive person."""
    if (volunteer_id is None) == (coordinator_id is None):
        raise ValueError("an invitation is for exactly one volunteer or one coordinator")
    person = (
        await session.get(Volunteer, volunteer_id)
        if volunteer_id is not None
        else await session.get(Coordinator, coordinator_id)
    )
    if person is None or not person.active:
        raise LookupError("no such active volunteer or coordinator")
    token = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]: fits Telegram's 64-character payload
    now = clock.now()
    session.add(
        ChatInvitation(
            token_hash=token_hash(token),
            volunteer_id=volunteer_id,
            coordinator_id=coordinator_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    audit.record(
        session,
        clock=clock,
        actor=created_by,
        action="chat.invite",
        entity="volunteer" if volunteer_id is not None else "coordinator",
        entity_id=volunteer_id if volunteer_id is not None else coordinator_id,
    )
    return token


class InvitationProblem(StrEnum):
    INVALID = "invalid"  # unknown, used, or its person gone: the same answer, so tokens can't be probed
    EXPIRED = "expired"


class InvitationRefused(ValueError):
    def __init__(self, problem: InvitationProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


async def claim_invitation(
    session: AsyncSession, *, clock: Clock, token: str, telegram_user_id: int | None = None
) -> Volunteer | Coordinator:
    """Use a token once, on any channel, and return the active person it invites; raises InvitationRefused.

    The conditional update makes "works once" hold even for two uses racing each other. Adds to the session, does
    not commit: the caller links the person in the same transaction.
    """
    invitation = (
        await session.exec(select(ChatInvitation).where(ChatInvitation.token_hash == token_hash(token)))
    ).first()
    if invitation is None or invitation.used_at is not None:
        raise InvitationRefused(InvitationProblem.INVALID)
    now = clock.now()
    if invitation.expires_at <= now:
        raise InvitationRefused(InvitationProblem.EXPIRED)
    claimed = await session.exec(
        update(ChatInvitation)
        .where(col(ChatInvitation.id) == invitation.id, col(ChatInvitation.used_at).is_(None))
        .values(used_at=now, used_by_telegram_user_id=telegram_user_id)
    )
    if not claimed.rowcount:
        raise InvitationRefused(InvitationProblem.INVALID)
    person: Volunteer | Coordinator | None = (
        await session.get(Volunteer, invitation.volunteer_id)
        if invitation.volunteer_id is not None
        else await session.get(Coordinator, invitation.coordinator_id)
    )
    if person is None or not person.active:
        raise InvitationRefused(InvitationProblem.INVALID)
    return person
