"""Tying volunteers and coordinators to their WeCom userid: by the one-time invitation token a member sends the app
as a text message (the same tokens `care.invitations` makes for Telegram's deep links), or by the roster phone
matched against WeCom's directory (`carevisit wecom link`).

Every function adds to the caller's session and does not commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock
from carevisit.care.invitations import InvitationProblem, InvitationRefused, claim_invitation
from carevisit.storage.models import Coordinator, Volunteer
from carevisit.wecom.client import WeComClient
from carevisit.wecom.errors import WeComError

log = logging.getLogger(__name__)

# What `create_invitation` makes (token_urlsafe(24)): 32 characters of [A-Za-z0-9_-]. Anything else a member types
# is not an attempt at an invitation and is not looked up.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


class LinkOutcome(StrEnum):
    LINKED = "linked"
    INVALID = "invalid"  # unknown, used, or not an invitation at all
    EXPIRED = "expired"
    TAKEN = "taken"  # the person is already linked to another WeCom member


@dataclass(frozen=True, slots=True)
class LinkResult:
    outcome: LinkOutcome
    name: str = ""  # the person linked, for the answer to them
    role: str = ""  # volunteer | coordinator


def looks_like_invitation(text: str) -> bool:
    return bool(_TOKEN.match(text.strip()))


async def link_by_invitation(session: AsyncSession, *, clock: Clock, userid: str, token: str) -> LinkResult:
    """Redeem `token` for the member `userid` (who sent it: WeCom vouches for the sender)."""
    if not looks_like_invitation(token):
        return LinkResult(LinkOutcome.INVALID)
    try:
        person = await claim_invitation(session, clock=clock, token=token.strip())
    except InvitationRefused as refused:
        outcome = LinkOutcome.EXPIRED if refused.problem == InvitationProblem.EXPIRED else LinkOutcome.INVALID
        return LinkResult(outcome)
    if not await link(session, clock=clock, person=person, userid=userid, how="invitation"):
        return LinkResult(LinkOutcome.TAKEN)
    return LinkResult(LinkOutcome.LINKED, person.name, _role(person))


async def link(session: AsyncSession, *, clock: Clock, person: Volunteer | Coordinator, userid: str, how: str) -> bool:
    """Give `person` the WeCom `userid`; False (changing nothing) if they already have another one. One member
    speaks for one volunteer and one coordinator: a previous link of this userid to someone else is dropped."""
    if person.wecom_userid not in (None, userid):
        return False
    model = type(person)
    await session.exec(
        update(model).where(col(model.wecom_userid) == userid, col(model.id) != person.id).values(wecom_userid=None)
    )
    person.wecom_userid = userid
    session.add(person)
    audit.record(
        session,
        clock=clock,
        actor=f"{_role(person)}:{person.id}",
        action="chat.link",
        entity=_role(person),
        entity_id=person.id,
        details={"how": how, "channel": "wecom"},
    )
    return True


@dataclass
class PhoneLinkCounts:
    looked_up: int = 0
    linked: int = 0
    not_members: int = 0  # WeCom has no member with that mobile
    taken: int = 0  # the member is already linked to someone else of the same kind
    by_kind: dict[str, int] = field(default_factory=dict)
    stopped_by: str | None = None  # WeCom's refusal that ended the run early (a frequency limit…)


async def link_by_phone(session: AsyncSession, *, clock: Clock, client: WeComClient) -> PhoneLinkCounts:
    """Ask WeCom for every active volunteer and coordinator with a roster phone and no userid yet, and link the
    members found. A WeCom error ends the run early (`stopped_by`); what was linked so far stays in the session
    for the caller to commit, and a second run asks only for the rest."""
    counts = PhoneLinkCounts()
    for model in (Volunteer, Coordinator):
        people = (
            await session.exec(
                select(model)
                .where(col(model.active).is_(True), col(model.phone).is_not(None), col(model.wecom_userid).is_(None))
                .order_by(col(model.id))
            )
        ).all()
        for person in people:
            assert person.phone is not None
            counts.looked_up += 1
            try:
                userid = await client.userid_by_mobile(wecom_mobile(person.phone))
            except WeComError as error:
                counts.looked_up -= 1
                counts.stopped_by = str(error)
                return counts
            if userid is None:
                counts.not_members += 1
                continue
            taken = await session.exec(select(model.id).where(col(model.wecom_userid) == userid))
            if taken.first() is not None:
                counts.taken += 1
                continue
            await link(session, clock=clock, person=person, userid=userid, how="phone")
            counts.linked += 1
            counts.by_kind[_role(person)] = counts.by_kind.get(_role(person), 0) + 1
    log.info("wecom phone linking: %d looked up, %d linked", counts.looked_up, counts.linked)
    return counts


def wecom_mobile(e164: str) -> str:
    """The roster's E.164 as WeCom's directory holds a mobile: the 11 digits for the mainland, else as is."""
    return e164.removeprefix("+86") if e164.startswith("+86") else e164


def _role(person: Volunteer | Coordinator) -> str:
    return "volunteer" if isinstance(person, Volunteer) else "coordinator"
