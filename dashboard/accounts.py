"""Coordinator sign-in for the dashboard: argon2 password hashes."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Coordinator

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


async def authenticate(session: AsyncSession, *, username: str, password: str) -> Coordinator | None:
    """The active coordinator with these credentials, or None (same answer for unknown user and wrong password)."""
    coordinator = (await session.exec(select(Coordinator).where(Coordinator.username == username))).first()
    if coordinator is None or not coordinator.active or not coordinator.password_hash:
        _hasher.hash(password)  # spend the same time either way: no user enumeration by timing
        return None
    try:
        _hasher.verify(coordinator.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return coordinator
