"""The volunteers a coordinator manages: those who serve a community in the coordinator's area subtree.

Queries take a session by keyword and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock
from carevisit.storage.enums import VisitStatus, VolunteerKind
from carevisit.storage.models import Area, Organisation, Visit, Volunteer, VolunteerCommunity


@dataclass(frozen=True, slots=True)
class VolunteerRow:
    """One line of the volunteer list. `communities` are only those inside the coordinator's subtree."""

    id: int
    external_id: str
    name: str
    kind: VolunteerKind
    organisation: str | None
    communities: tuple[str, ...]
    capacity: int
    active: bool
    linked: bool
    assigned: int  # this month's visits assigned to them (any status)
    done: int  # of which done


def _serving_in(area: Area):  # type: ignore[no-untyped-def]
    """Ids of volunteers serving at least one community in `area`'s subtree."""
    return (
        select(VolunteerCommunity.volunteer_id)
        .join(Area, col(Area.id) == col(VolunteerCommunity.area_id))
        .where(in_subtree(area))
    )


async def volunteers_in_area(session: AsyncSession, *, area: Area, month: str) -> list[VolunteerRow]:
    """Every volunteer (active or not) serving a community in `area`'s subtree, active ones first, by roster id."""
    volunteers = (
        await session.exec(
            select(Volunteer, Organisation.name)
            .join(Organisation, col(Organisation.id) == col(Volunteer.organisation_id), isouter=True)
            .where(col(Volunteer.id).in_(_serving_in(area)))
            .order_by(col(Volunteer.active).desc(), col(Volunteer.external_id))
        )
    ).all()
    if not volunteers:
        return []
    ids = [volunteer.id for volunteer, _ in volunteers]
    communities: dict[int, list[str]] = {}
    for volunteer_id, name in (
        await session.exec(
            select(VolunteerCommunity.volunteer_id, Area.name)
            .join(Area, col(Area.id) == col(VolunteerCommunity.area_id))
            .where(col(VolunteerCommunity.volunteer_id).in_(ids), in_subtree(area))
            .order_by(col(Area.code))
        )
    ).all():
        communities.setdefault(volunteer_id, []).append(name)
    # Their whole month's load, wherever the elders live: capacity is one number for all their communities.
    loads = {
        volunteer_id: (assigned, done or 0)
        for volunteer_id, assigned, done in (
            await session.exec(
                select(
                    Visit.volunteer_id,
                    func.count(),
                    func.sum(case((col(Visit.status) == VisitStatus.DONE, 1), else_=0)),
                )
                .where(col(Visit.month) == month, col(Visit.volunteer_id).in_(ids))
                .group_by(col(Visit.volunteer_id))
            )
        ).all()
    }
    rows = []
    for volunteer, organisation in volunteers:
        assert volunteer.id is not None
        assigned, done = loads.get(volunteer.id, (0, 0))
        rows.append(
            VolunteerRow(
                id=volunteer.id,
                external_id=volunteer.external_id,
                name=volunteer.name,
                kind=volunteer.kind,
                organisation=organisation,
                communities=tuple(communities.get(volunteer.id, ())),
                capacity=volunteer.capacity,
                active=volunteer.active,
                linked=volunteer.telegram_user_id is not None,
                assigned=assigned,
                done=int(done),
            )
        )
    return rows


async def volunteer_in_area(session: AsyncSession, *, area: Area, volunteer_id: int) -> Volunteer | None:
    """The volunteer if they serve a community in `area`'s subtree, else None (elsewhere and nowhere alike)."""
    return (
        await session.exec(
            select(Volunteer).where(col(Volunteer.id) == volunteer_id, col(Volunteer.id).in_(_serving_in(area)))
        )
    ).first()


async def reactivate_volunteer(session: AsyncSession, *, clock: Clock, volunteer: Volunteer, actor: str) -> bool:
    """Make an inactive volunteer active again (the next planning or reassignment may give them visits).

    Returns False, writing nothing, if they were already active. Does not commit."""
    if volunteer.active:
        return False
    volunteer.active = True
    volunteer.updated_at = clock.now()
    session.add(volunteer)
    audit.record(
        session, clock=clock, actor=actor, action="volunteer.reactivate", entity="volunteer", entity_id=volunteer.id
    )
    return True
