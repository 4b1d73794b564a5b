"""The coordinators' referral queue: problems found on visits, worked until closed (需求转介)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.access import NotAllowed
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock
from carevisit.storage.enums import ProblemCategory, ProblemStatus
from carevisit.storage.models import Area, Elder, Problem, VolunteerCommunity


class ProblemNotFound(LookupError):
    """No such problem in the caller's area (the same answer whether it exists elsewhere or not at all)."""


class ProblemClosed(ValueError):
    """The problem is already closed; closing records stay as they were written."""


async def open_problems(session: AsyncSession, *, area: Area, limit: int = 200) -> list[tuple[Problem, Elder]]:
    statement = (
        select(Problem, Elder)
        .join(Elder, col(Elder.id) == col(Problem.elder_id))
        .where(
            col(Problem.status) != ProblemStatus.CLOSED,
            col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
        )
        .order_by(col(Problem.urgent).desc(), col(Problem.created_at))
        .limit(limit)
    )
    return [(problem, elder) for problem, elder in (await session.exec(statement)).all()]


async def count_open_problems(session: AsyncSession, *, area: Area) -> int:
    statement = (
        select(func.count())
        .select_from(Problem)
        .join(Elder, col(Elder.id) == col(Problem.elder_id))
        .where(
            col(Problem.status) != ProblemStatus.CLOSED,
            col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
        )
    )
    return int((await session.exec(statement)).one())


async def update_problem(
    session: AsyncSession,
    *,
    clock: Clock,
    area: Area,
    problem_id: int,
    actor: str,
    status: ProblemStatus,
    referred_to: str | None = None,
    resolution: str | None = None,
) -> Problem:
    """Move a problem along the queue (refer, work on, close). Raises ProblemNotFound outside `area`,
    ProblemClosed if already closed, ValueError if closing without a resolution. Does not commit."""
    row = (
        await session.exec(
            select(Problem)
            .join(Elder, col(Elder.id) == col(Problem.elder_id))
            .where(
                col(Problem.id) == problem_id,
                col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
            )
        )
    ).first()
    if row is None:
        raise ProblemNotFound(problem_id)
    if row.status == ProblemStatus.CLOSED:
        raise ProblemClosed(problem_id)
    if status == ProblemStatus.CLOSED and not (resolution or "").strip():
        raise ValueError("closing a problem needs a resolution")
    now = clock.now()
    row.status = status
    row.updated_at = now
    if referred_to:
        row.referred_to = referred_to.strip()
    if status == ProblemStatus.CLOSED:
        row.resolution = (resolution or "").strip()
        row.closed_at = now
    session.add(row)
    audit.record(session, clock=clock, actor=actor, action=f"problem.{status}", entity="problem", entity_id=problem_id)
    return row


async def report_problem(
    session: AsyncSession,
    *,
    clock: Clock,
    volunteer_id: int,
    elder_id: int,
    category: ProblemCategory,
    description: str,
    urgent: bool = False,
    visit_id: int | None = None,
    attachments: list[dict[str, Any]] | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Problem:
    """A volunteer files a problem about an elder of one of their communities (raises NotAllowed otherwise).

    It enters the referral queue as OPEN; an urgent one also needs an incident, which the caller opens.
    Attachments are chat file references (`{"kind": "photo", "file_id": ...}`), never the files. Does not commit.
    """
    served = (
        await session.exec(
            select(Elder.id)
            .join(VolunteerCommunity, col(VolunteerCommunity.area_id) == col(Elder.community_id))
            .where(col(Elder.id) == elder_id, col(VolunteerCommunity.volunteer_id) == volunteer_id)
        )
    ).first()
    if served is None:
        raise NotAllowed(elder_id)
    now = clock.now()
    problem = Problem(
        elder_id=elder_id,
        visit_id=visit_id,
        reporter_volunteer_id=volunteer_id,
        category=category,
        description=description.strip(),
        urgent=urgent,
        attachments=attachments or None,
        latitude=latitude,
        longitude=longitude,
        created_at=now,
        updated_at=now,
    )
    session.add(problem)
    await session.flush()
    audit.record(
        session,
        clock=clock,
        actor=f"volunteer:{volunteer_id}",
        action="problem.report",
        entity="problem",
        entity_id=problem.id,
        details={"category": str(category), "urgent": urgent},
    )
    return problem
