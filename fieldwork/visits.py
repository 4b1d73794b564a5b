"""Confirming a visit, once, from any entry point: the visit done, a problem per concern on the checklist (each
announced to the coordinators), the emergency an urgent outcome raises, the audit entry. The family report follows
from the confirmed visit (escalation.family queues it on its own schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.confirmations import OK, Confirmation, confirm_visit
from carevisit.fieldwork import notices
from carevisit.fieldwork.context import FieldContext
from carevisit.fieldwork.emergencies import Raised, raise_emergency
from carevisit.storage.enums import VisitMode, VisitOutcome
from carevisit.storage.models import Visit, Volunteer


@dataclass(frozen=True, slots=True)
class Confirmed:
    confirmation: Confirmation  # the visit, its elder, already_done, the problems filed
    raised: Raised | None  # the emergency an URGENT outcome opened or joined


async def confirm(
    session: AsyncSession,
    ctx: FieldContext,
    *,
    volunteer: Volunteer,
    visit_id: int,
    mode: VisitMode,
    outcome: VisitOutcome,
    answers: dict[str, str] | None = None,
    all_fine: bool = False,
    note: str | None = None,
) -> Confirmed:
    """Confirm the volunteer's visit. `all_fine`: every checklist item answered OK (the "all fine" shortcut).
    A repeated confirmation changes nothing and raises nothing new. Raises VisitNotYours / VisitClosed. Never
    commits."""
    assert volunteer.id is not None
    if all_fine:
        answers = {item.key: OK for item in ctx.checklist}
    done = await confirm_visit(
        session,
        clock=ctx.clock,
        zone=ctx.zone,
        visit_id=visit_id,
        volunteer_id=volunteer.id,
        mode=mode,
        outcome=outcome,
        answers=answers,
        checklist=ctx.checklist,
        note=note,
    )
    for problem in done.problems:
        await notices.problem_to_coordinators(session, ctx, problem=problem, elder=done.elder)
    raised = None
    if outcome == VisitOutcome.URGENT and not done.already_done:
        raised = await raise_emergency(session, ctx, volunteer=volunteer, elder=done.elder, visit_id=visit_id)
    return Confirmed(confirmation=done, raised=raised)


async def just_confirmed(
    session: AsyncSession, ctx: FieldContext, *, volunteer: Volunteer, within: timedelta
) -> Visit | None:
    """The visit this volunteer confirmed last, if within `within` of now: what a photo sent right after a
    confirmation, without asking first, belongs to. Read from the visits themselves, so any process knows it."""
    statement = (
        select(Visit)
        .where(
            col(Visit.done_by_volunteer_id) == volunteer.id,
            col(Visit.volunteer_id) == volunteer.id,
            col(Visit.done_at) >= ctx.clock.now() - within,
        )
        .order_by(col(Visit.done_at).desc(), col(Visit.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()
