"""Reporting a problem about an elder, from any entry point: into the coordinators' referral queue, announced to
them, and an urgent one also raises the emergency."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.confirmations import VisitNotYours, assigned_visit, served_elder
from carevisit.care.referrals import report_problem
from carevisit.fieldwork import notices
from carevisit.fieldwork.context import FieldContext
from carevisit.fieldwork.emergencies import Raised, raise_emergency
from carevisit.storage.enums import ProblemCategory
from carevisit.storage.models import Elder, Problem, Volunteer


@dataclass(frozen=True, slots=True)
class Reported:
    problem: Problem
    elder: Elder
    raised: Raised | None  # the emergency an urgent report opened or joined


async def report(
    session: AsyncSession,
    ctx: FieldContext,
    *,
    volunteer: Volunteer,
    elder_id: int,
    category: ProblemCategory,
    description: str,
    urgent: bool,
    visit_id: int | None = None,
    attachments: list[dict] | None = None,
) -> Reported:
    """File the problem. Raises ElderNotServed (not an elder of the volunteer's communities) or VisitNotYours
    (`visit_id` is not theirs, or not this elder's). Never commits."""
    assert volunteer.id is not None
    elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=elder_id)  # before anything is written
    if visit_id is not None:
        _visit, visited = await assigned_visit(session, visit_id=visit_id, volunteer_id=volunteer.id)
        if visited.id != elder_id:
            raise VisitNotYours(visit_id)
    problem = await report_problem(
        session,
        clock=ctx.clock,
        volunteer_id=volunteer.id,
        elder_id=elder_id,
        visit_id=visit_id,
        category=category,
        description=description,
        urgent=urgent,
        attachments=attachments,
    )
    await notices.problem_to_coordinators(session, ctx, problem=problem, elder=elder)
    raised = None
    if urgent:
        raised = await raise_emergency(
            session,
            ctx,
            volunteer=volunteer,
            elder=elder,
            visit_id=visit_id,
            problem_id=problem.id,
            description=description,
            kind="infectious" if category == ProblemCategory.INFECTIOUS else "urgent",
        )
    return Reported(problem=problem, elder=elder, raised=raised)
