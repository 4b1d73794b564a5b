"""Coordinator accounts: creating them, passwords, disabling, listing within a subtree, and the sign-in throttle.

Used by `carevisit coordinator …` and the dashboard's admin page alike. Functions take a session by keyword and never
commit: the caller owns the transaction. Password hashing is the caller's (argon2 is an adapter, not the domain):
these functions receive the hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.access import may_see
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock
from carevisit.care.phones import parse_phone
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Coordinator

MIN_PASSWORD = 8
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """A request about an account that cannot be done; `reason` is a key of the words catalogue, `values` fill it."""

    def __init__(self, reason: str, **values: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("password_short", n=str(MIN_PASSWORD))


async def find_area(session: AsyncSession, *, text: str, within: Area | None = None) -> Area:
    """An area by its code (`440305001`) or its name path (`南山区/粤海街道`, read from any level down, so the last
    names are enough when they are unambiguous). Raises AccountError naming the candidates when several match."""
    text = text.strip().strip("/")
    if not text:
        raise AccountError("area_unknown", area=text)
    by_code = (await session.exec(select(Area).where(Area.code == text))).first()
    if by_code is not None and (within is None or may_see(within, by_code)):
        return by_code
    names = [name.strip() for name in text.split("/") if name.strip()]
    statement = select(Area).where(Area.name == names[-1]).order_by(col(Area.path)).limit(50)
    if within is not None:
        statement = statement.where(in_subtree(within))
    candidates = list((await session.exec(statement)).all())
    matches = [area for area in candidates if await _name_path_ends_with(session, area, names)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise AccountError("area_unknown", area=text)
    paths = [await name_path(session, area) for area in matches[:10]]
    raise AccountError("area_ambiguous", area=text, candidates="; ".join(paths))


async def name_path(session: AsyncSession, area: Area) -> str:
    """`广东省/深圳市/南山区/粤海街道`: the names from the root, one query for the whole path."""
    return (await name_paths(session, [area]))[area.path]


async def name_paths(session: AsyncSession, areas: list[Area]) -> dict[str, str]:
    """The name path of each area, by area path, in one query for all of them."""
    codes = {code for area in areas for code in area.path.split("/") if code}
    rows = (await session.exec(select(Area.code, Area.name).where(col(Area.code).in_(codes)))).all() if codes else []
    names = dict(rows)
    return {area.path: "/".join(names.get(code, code) for code in area.path.split("/") if code) for area in areas}


async def root_areas(session: AsyncSession) -> list[Area]:
    return list((await session.exec(select(Area).where(col(Area.parent_id).is_(None)).order_by(col(Area.code)))).all())


async def areas_in_subtree(session: AsyncSession, *, area: Area, limit: int = 500) -> list[Area]:
    """The areas an admin may give an account, shallowest first (suggestions; any code of the subtree is taken)."""
    statement = select(Area).where(in_subtree(area)).order_by(func.length(Area.path), col(Area.path)).limit(limit)
    return list((await session.exec(statement)).all())


async def _name_path_ends_with(session: AsyncSession, area: Area, names: list[str]) -> bool:
    return (await name_path(session, area)).split("/")[-len(names) :] == names


async def create_coordinator(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: str,
    username: str,
    role: CoordinatorRole,
    area: Area,
    password_hash: str,
    name: str = "",
    phone: str = "",
    region: str = "CN",
) -> Coordinator:
    """Add an active account. Raises AccountError for a malformed or taken user name or an invalid phone."""
    username = username.strip()
    if not USERNAME.match(username):
        raise AccountError("username_invalid", username=username)
    taken = (await session.exec(select(Coordinator.id).where(Coordinator.username == username))).first()
    if taken is not None:
        raise AccountError("username_taken", username=username)
    parsed = None
    if phone.strip():
        try:
            parsed = parse_phone(phone, region)
        except ValueError:
            raise AccountError("phone_invalid", phone=phone) from None
    coordinator = Coordinator(
        username=username,
        name=name.strip() or username,
        role=role,
        area_id=area.id or 0,
        password_hash=password_hash,
        phone=parsed.e164 if parsed else None,
        phone_kind=parsed.kind if parsed else None,
        created_at=clock.now(),
    )
    session.add(coordinator)
    await session.flush()
    audit.record(
        session, clock=clock, actor=actor, action="coordinator.create", entity="coordinator", entity_id=coordinator.id,
        details={"role": role.value, "area_id": area.id},
    )  # fmt: skip
    return coordinator


async def set_password(
    session: AsyncSession, *, clock: Clock, actor: str, coordinator: Coordinator, password_hash: str
) -> None:
    """A new password ends every session of the account and lifts a sign-in lock."""
    coordinator.password_hash = password_hash
    coordinator.session_version += 1
    coordinator.failed_logins = 0
    coordinator.locked_until = None
    session.add(coordinator)
    audit.record(
        session, clock=clock, actor=actor, action="coordinator.password", entity="coordinator", entity_id=coordinator.id
    )


async def set_active(
    session: AsyncSession, *, clock: Clock, actor: str, coordinator: Coordinator, active: bool
) -> bool:
    """Enable or disable; disabling ends every session. Returns whether anything changed."""
    if coordinator.active == active:
        return False
    coordinator.active = active
    coordinator.session_version += 1
    session.add(coordinator)
    action = "coordinator.enable" if active else "coordinator.disable"
    audit.record(session, clock=clock, actor=actor, action=action, entity="coordinator", entity_id=coordinator.id)
    return True


@dataclass(frozen=True)
class AccountRow:
    coordinator: Coordinator
    area: Area


@dataclass(frozen=True)
class AccountList:
    rows: list[AccountRow]
    more: int  # accounts beyond the limit


async def coordinators_in_subtree(session: AsyncSession, *, area: Area, limit: int = 500) -> AccountList:
    """Accounts whose area lies in this subtree (the area itself included), by area then user name."""
    where = select(Area.id).where(in_subtree(area))
    statement = (
        select(Coordinator, Area)
        .join(Area, col(Area.id) == col(Coordinator.area_id))
        .where(col(Coordinator.area_id).in_(where))
        .order_by(col(Area.path), col(Coordinator.username))
        .limit(limit)
    )
    rows = [AccountRow(coordinator, found) for coordinator, found in (await session.exec(statement)).all()]
    total = (await session.exec(select(func.count()).where(col(Coordinator.area_id).in_(where)))).one()
    return AccountList(rows=rows, more=max(0, total - len(rows)))


async def coordinator_in_subtree(session: AsyncSession, *, area: Area, coordinator_id: int) -> Coordinator | None:
    """The account, if it lies in this subtree; else None (the same answer whether it exists elsewhere or not)."""
    statement = select(Coordinator).where(
        Coordinator.id == coordinator_id, col(Coordinator.area_id).in_(select(Area.id).where(in_subtree(area)))
    )
    return (await session.exec(statement)).first()


async def by_username(session: AsyncSession, *, username: str) -> Coordinator | None:
    return (await session.exec(select(Coordinator).where(Coordinator.username == username))).first()


async def any_can_sign_in(session: AsyncSession) -> bool:
    """Whether at least one active account has a password: without one nobody can use the dashboard."""
    statement = select(Coordinator.id).where(
        col(Coordinator.active).is_(True), col(Coordinator.password_hash).is_not(None)
    )
    return (await session.exec(statement.limit(1))).first() is not None


# Sign-in throttling: a few free tries, then a wait that doubles with every further failure, up to a ceiling.
FREE_TRIES = 5
FIRST_WAIT = timedelta(seconds=1)
LONGEST_WAIT = timedelta(minutes=15)


def wait_after(failures: int, *, free_tries: int = FREE_TRIES) -> timedelta:
    """How long sign-in stays closed after this many failures in a row (zero while within the free tries)."""
    if failures < free_tries:
        return timedelta(0)
    doublings = min(failures - free_tries, 20)  # 2**20 s is far past the ceiling already
    return min(FIRST_WAIT * 2**doublings, LONGEST_WAIT)


async def record_failed_sign_in(session: AsyncSession, *, clock: Clock, coordinator_id: int) -> datetime | None:
    """Count a failure atomically (several web processes may count at once) and lock the account for the backoff.
    Returns the end of the lock, if there is one now."""
    await session.exec(  # type: ignore[call-overload]
        update(Coordinator)
        .where(col(Coordinator.id) == coordinator_id)
        .values(failed_logins=col(Coordinator.failed_logins) + 1)
    )
    failures = (await session.exec(select(Coordinator.failed_logins).where(Coordinator.id == coordinator_id))).one()
    wait = wait_after(failures)
    until = clock.now() + wait if wait else None
    await session.exec(  # type: ignore[call-overload]
        update(Coordinator).where(col(Coordinator.id) == coordinator_id).values(locked_until=until)
    )
    return until


async def record_sign_in(session: AsyncSession, *, clock: Clock, coordinator: Coordinator) -> None:
    coordinator.failed_logins = 0
    coordinator.locked_until = None
    coordinator.last_sign_in_at = clock.now()
    session.add(coordinator)


async def end_sessions(session: AsyncSession, *, coordinator_id: int) -> None:
    """Sign-out: every cookie issued so far for this account stops working."""
    await session.exec(  # type: ignore[call-overload]
        update(Coordinator)
        .where(col(Coordinator.id) == coordinator_id)
        .values(session_version=col(Coordinator.session_version) + 1)
    )
