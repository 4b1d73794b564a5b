"""Giving one open visit to a volunteer a coordinator names: for an unassigned visit nobody could take, an urgent
extra visit, or a face the elder knows. The automatic balancing (`scheduler.assignment`) never goes over a
volunteer's monthly capacity; a person choosing may, once they have seen by how much.

Functions take the coordinator's area and treat a visit outside it exactly like one that does not exist.
They never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit, outbound
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock, local_today
from carevisit.care.month_close import is_open
from carevisit.care.people import chat_recipient
from carevisit.scheduler.reminder_texts import day_text, language_or_default, mode_text, name, t
from carevisit.storage.enums import VisitKind, VisitStatus
from carevisit.storage.models import Area, Elder, Visit, Volunteer, VolunteerCommunity

CANDIDATE_LIMIT = 200  # volunteers listed for one community; a real community has tens


class VisitNotFound(LookupError):
    """No such visit in the coordinator's area (the same answer whether it exists elsewhere or not at all)."""


class VisitNotOpen(ValueError):
    """The visit is done, missed or cancelled, or its month is closed: it can no longer be given to anyone."""


class VolunteerCannotServe(ValueError):
    """The volunteer is inactive, unknown, or does not serve the elder's community."""


class OverCapacity(Exception):
    """Assigning would put the volunteer over their monthly capacity; nothing was changed.

    `load` is what their month would hold with this visit, `capacity` what they said they can take."""

    def __init__(self, *, load: int, capacity: int) -> None:
        super().__init__(f"{load}/{capacity}")
        self.load = load
        self.capacity = capacity


@dataclass(frozen=True, slots=True)
class Candidate:
    """A volunteer who may take a visit of this community, with their load in the visit's month."""

    id: int
    external_id: str
    name: str
    capacity: int
    load: int  # visits of the month assigned to them, not cancelled (the balancer counts the same)

    @property
    def full(self) -> bool:
        return self.load >= self.capacity


@dataclass(frozen=True, slots=True)
class Assignment:
    visit: Visit
    elder: Elder
    volunteer: Volunteer
    previous_volunteer_id: int | None
    load: int  # the volunteer's month with this visit
    over_capacity: bool
    unchanged: bool  # the visit was already theirs: nothing written


async def visit_in_area(session: AsyncSession, *, area: Area, visit_id: int) -> tuple[Visit, Elder]:
    """The visit and its elder if the elder lives in `area`'s subtree; raises VisitNotFound otherwise."""
    row = (
        await session.exec(
            select(Visit, Elder)
            .join(Elder, col(Elder.id) == col(Visit.elder_id))
            .where(col(Visit.id) == visit_id, col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
        )
    ).first()
    if row is None:
        raise VisitNotFound(visit_id)
    return row[0], row[1]


async def candidates(session: AsyncSession, *, community_id: int, month: str) -> list[Candidate]:
    """Active volunteers serving `community_id`, least loaded first, with their load in `month` (one query)."""
    load = (
        select(func.count())
        .where(
            col(Visit.volunteer_id) == col(Volunteer.id),
            col(Visit.month) == month,
            col(Visit.status) != VisitStatus.CANCELLED,
        )
        .correlate(Volunteer)
        .scalar_subquery()
    )
    rows = await session.exec(
        select(Volunteer, load)
        .join(VolunteerCommunity, col(VolunteerCommunity.volunteer_id) == col(Volunteer.id))
        .where(col(VolunteerCommunity.area_id) == community_id, col(Volunteer.active).is_(True))
        .order_by(load, col(Volunteer.external_id))
        .limit(CANDIDATE_LIMIT)
    )
    return [
        Candidate(id=v.id or 0, external_id=v.external_id, name=v.name, capacity=v.capacity, load=int(n))
        for v, n in rows.all()
    ]


async def month_load(session: AsyncSession, *, volunteer_id: int, month: str) -> int:
    """Visits of `month` assigned to the volunteer and not cancelled."""
    count = await session.exec(
        select(func.count()).where(
            col(Visit.volunteer_id) == volunteer_id,
            col(Visit.month) == month,
            col(Visit.status) != VisitStatus.CANCELLED,
        )
    )
    return int(count.one())


async def assign_visit(
    session: AsyncSession,
    *,
    clock: Clock,
    zone: ZoneInfo,
    area: Area,
    visit_id: int,
    volunteer_id: int,
    actor: str,
    over_capacity_ok: bool = False,
    language: str = "zh_CN",
) -> Assignment:
    """Give the open visit `visit_id` (of an elder in `area`) to `volunteer_id`, who must be active and serve the
    elder's community. Over their monthly capacity only with `over_capacity_ok` (else OverCapacity, nothing
    changed). Assigning a visit to the volunteer who already has it changes nothing.

    A volunteer with a linked chat is told at once (a row in the chat outbox, in `language` unless they chose
    their own), so an urgent visit does not wait for the next daily digest.

    Raises VisitNotFound, VisitNotOpen, VolunteerCannotServe, OverCapacity. Writes an audit entry; does not commit.
    """
    visit, elder = await visit_in_area(session, area=area, visit_id=visit_id)
    if visit.status != VisitStatus.PLANNED or not is_open(visit.month, today=local_today(clock, zone)):
        raise VisitNotOpen(visit_id)
    volunteer = (
        await session.exec(
            select(Volunteer)
            .join(VolunteerCommunity, col(VolunteerCommunity.volunteer_id) == col(Volunteer.id))
            .where(
                col(Volunteer.id) == volunteer_id,
                col(Volunteer.active).is_(True),
                col(VolunteerCommunity.area_id) == elder.community_id,
            )
        )
    ).first()
    if volunteer is None:
        raise VolunteerCannotServe(volunteer_id)
    current = await month_load(session, volunteer_id=volunteer_id, month=visit.month)
    if visit.volunteer_id == volunteer_id:
        return Assignment(visit, elder, volunteer, volunteer_id, current, current > volunteer.capacity, True)
    load = current + 1
    over = load > volunteer.capacity
    if over and not over_capacity_ok:
        raise OverCapacity(load=load, capacity=volunteer.capacity)
    previous = visit.volunteer_id
    now = clock.now()
    # Conditional on the visit still being open: a confirmation landing in between wins, and this raises.
    won = await session.exec(
        update(Visit)
        .where(col(Visit.id) == visit_id, col(Visit.status) == VisitStatus.PLANNED)
        .values(volunteer_id=volunteer_id, assigned_at=now, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if not won.rowcount:
        raise VisitNotOpen(visit_id)
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="visit.assign",
        entity="visit",
        entity_id=visit_id,
        details={"volunteer": volunteer_id, "previous": previous, "load": load, "capacity": volunteer.capacity},
    )
    to = chat_recipient(volunteer)
    if to is not None:
        await outbound.enqueue(
            session,
            clock=clock,
            key=f"assign:{visit_id}:volunteer:{volunteer_id}:{now.isoformat()}",
            to=to,
            text=assigned_text(language_or_default(volunteer.language, language), visit, elder, zone),
        )
    return Assignment(visit, elder, volunteer, previous, load, over, False)


def assigned_text(language: str, visit: Visit, elder: Elder, zone: ZoneInfo) -> str:
    """The volunteer's notice of a visit given to them by hand (their digest's wording for one visit)."""
    due = visit.deadline_at.astimezone(zone).date() if visit.deadline_at else visit.window_end
    line = t(
        language,
        "assigned.line",
        name=name(elder.name),
        mode=mode_text(language, visit.mode),
        until=day_text(language, due),
    )
    if visit.kind == VisitKind.EXTRA and visit.reason:
        line += t(language, "digest.extra", reason=name(visit.reason))
    return "\n".join((t(language, "assigned.title"), line, t(language, "digest.footer")))
