"""Signing volunteers in to the web app without passwords: one-time links, and the long-lived device tokens a link
(or WeCom's OAuth) binds to a phone's browser.

A link token is random (`secrets`), expires, works once; a device token lives until it is revoked. Only their
SHA-256 hashes are stored. Every function adds to the caller's session and does not commit; the audit entries
carry ids only.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.care.invitations import token_hash  # one-time tokens are kept as this digest, whatever they open
from carevisit.storage.models import Volunteer, VolunteerDevice, VolunteerSignInLink

LINK_VALIDITY = timedelta(hours=72)
# A device's last-seen time is written at most this often: not a database write on every page a volunteer opens.
SEEN_EVERY = timedelta(hours=1)
LABEL_MAX = 80
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def looks_like_token(token: str) -> bool:
    """Whether a string could be a token we made at all (a typo or a crawler's path cannot)."""
    return bool(_TOKEN.match(token))


async def issue_link_token(
    session: AsyncSession,
    *,
    clock: Clock,
    volunteer_id: int,
    created_by: str,
    valid_for: timedelta = LINK_VALIDITY,
) -> str:
    """A new one-time sign-in token for `PUBLIC_URL/v/in/<token>`. Raises LookupError for an unknown or inactive
    volunteer."""
    volunteer = await session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.active:
        raise LookupError("no such active volunteer")
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        VolunteerSignInLink(
            token_hash=token_hash(token),
            volunteer_id=volunteer_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + valid_for,
        )
    )
    audit.record(
        session, clock=clock, actor=created_by, action="app.link_issue", entity="volunteer", entity_id=volunteer_id
    )
    return token


async def usable_link(session: AsyncSession, *, clock: Clock, token: str) -> VolunteerSignInLink | None:
    """The link of this token while it can still be used (unused, unexpired, its volunteer active); changes
    nothing, so a chat app's link preview (a GET) cannot use it up."""
    if not looks_like_token(token):
        return None
    link = (
        await session.exec(select(VolunteerSignInLink).where(VolunteerSignInLink.token_hash == token_hash(token)))
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= clock.now():
        return None
    volunteer = await session.get(Volunteer, link.volunteer_id)
    return link if volunteer is not None and volunteer.active else None


async def redeem(session: AsyncSession, *, clock: Clock, token: str, label: str) -> str | None:
    """Use a sign-in link once: a new device token bound to its volunteer, or None when the link is unknown, used,
    expired or its volunteer inactive (the caller cannot tell which, nor can whoever guesses). Two redemptions at
    once: the conditional update lets exactly one win."""
    link = await usable_link(session, clock=clock, token=token)
    if link is None:
        return None
    now = clock.now()
    claimed = await session.exec(  # type: ignore[call-overload]
        update(VolunteerSignInLink)
        .where(col(VolunteerSignInLink.id) == link.id, col(VolunteerSignInLink.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    return await bind_device(session, clock=clock, volunteer_id=link.volunteer_id, label=label, via="link")


async def bind_device(session: AsyncSession, *, clock: Clock, volunteer_id: int, label: str, via: str) -> str:
    """A new device token for this volunteer (`via`: how they proved who they are — "link", "wecom")."""
    device_token = secrets.token_urlsafe(32)
    now = clock.now()
    device = VolunteerDevice(
        token_hash=token_hash(device_token),
        volunteer_id=volunteer_id,
        label=short_label(label),
        created_at=now,
        last_seen_at=now,
    )
    session.add(device)
    await session.flush()
    audit.record(
        session,
        clock=clock,
        actor=f"volunteer:{volunteer_id}",
        action="app.sign_in",
        entity="volunteer",
        entity_id=volunteer_id,
        details={"via": via, "device": device.id},
    )
    return device_token


async def volunteer_for_device(
    session: AsyncSession, *, device_token: str, clock: Clock | None = None
) -> Volunteer | None:
    """The active volunteer a device token signs in, unless the device was revoked. With `clock`, the device's
    last-seen time moves (at most hourly), in the caller's transaction."""
    if not device_token or not looks_like_token(device_token):
        return None
    found = (
        await session.exec(
            select(VolunteerDevice, Volunteer)
            .join(Volunteer, col(Volunteer.id) == col(VolunteerDevice.volunteer_id))
            .where(VolunteerDevice.token_hash == token_hash(device_token), col(VolunteerDevice.revoked_at).is_(None))
        )
    ).first()
    if found is None:
        return None
    device, volunteer = found
    if not volunteer.active:
        return None
    if clock is not None and clock.now() - device.last_seen_at >= SEEN_EVERY:
        device.last_seen_at = clock.now()
        session.add(device)
    return volunteer


async def revoke_devices(session: AsyncSession, *, clock: Clock, volunteer_id: int, by: str) -> int:
    """Sign every device of this volunteer out; how many were signed in. Audited even when there were none, so the
    log shows the coordinator acted."""
    now = clock.now()
    result = await session.exec(  # type: ignore[call-overload]
        update(VolunteerDevice)
        .where(col(VolunteerDevice.volunteer_id) == volunteer_id, col(VolunteerDevice.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=by)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)
    audit.record(
        session,
        clock=clock,
        actor=by,
        action="app.devices_revoke",
        entity="volunteer",
        entity_id=volunteer_id,
        details={"devices": count},
    )
    return count


async def revoke_device(session: AsyncSession, *, clock: Clock, device_token: str) -> bool:
    """Sign this one device out (the volunteer's own 退出); whether it was signed in."""
    if not device_token or not looks_like_token(device_token):
        return False
    device = (
        await session.exec(
            select(VolunteerDevice).where(
                VolunteerDevice.token_hash == token_hash(device_token), col(VolunteerDevice.revoked_at).is_(None)
            )
        )
    ).first()
    if device is None:
        return False
    actor = f"volunteer:{device.volunteer_id}"
    device.revoked_at, device.revoked_by = clock.now(), actor
    session.add(device)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="app.sign_out",
        entity="volunteer",
        entity_id=device.volunteer_id,
        details={"device": device.id},
    )
    return True


async def signed_in_devices(session: AsyncSession, *, volunteer_id: int) -> int:
    """How many devices are signed in as this volunteer now."""
    return (await devices_signed_in(session, volunteer_ids=[volunteer_id])).get(volunteer_id, 0)


async def devices_signed_in(session: AsyncSession, *, volunteer_ids: list[int]) -> dict[int, int]:
    """How many devices are signed in now, per volunteer of `volunteer_ids` (those with none are left out)."""
    if not volunteer_ids:
        return {}
    rows = await session.exec(
        select(VolunteerDevice.volunteer_id, func.count())
        .where(col(VolunteerDevice.volunteer_id).in_(volunteer_ids), col(VolunteerDevice.revoked_at).is_(None))
        .group_by(col(VolunteerDevice.volunteer_id))
    )
    return {volunteer_id: count for volunteer_id, count in rows.all()}


_APPS = (("wxwork", "企业微信"), ("MicroMessenger", "微信"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("HarmonyOS", "HarmonyOS"), ("Android", "Android"))


def short_label(user_agent: str) -> str:
    """Which phone and app a device is, for a coordinator's eyes: "Android · 微信", else the user agent cut short."""
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    app = next((name for marker, name in _APPS if marker in user_agent), None)
    parts = [part for part in (system, app) if part]
    return " · ".join(parts) if parts else " ".join(user_agent.split())[:LABEL_MAX]


async def volunteer_by_wecom_userid(session: AsyncSession, *, userid: str) -> Volunteer | None:
    """The active volunteer linked to this WeCom userid, or None."""
    found = await session.exec(
        select(Volunteer).where(Volunteer.wecom_userid == userid, col(Volunteer.active).is_(True))
    )
    return found.first()
