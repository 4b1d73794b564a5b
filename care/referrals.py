"""The coordinators' referral queue: problems found on visits, worked until closed (需求转介)."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from care import audit
from care.areas import in_subtree
from care.clock import Clock
from storage.enums import ProblemStatus
from storage.models import Area, Elder, Problem


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
