"""Reporting a problem from the app: the elder, a category, a few words, a photo, urgent or not.

The report goes through the service the bot uses (fieldwork.problems.report: the referral queue, the coordinators'
notice, and for an urgent one the emergency), committed before the next page; an urgent one lands on the emergency
page with the numbers to call.
"""

from __future__ import annotations

from aiohttp import web

from carevisit.care.clock import local_today
from carevisit.care.confirmations import ElderNotServed, VisitNotYours, assigned_visit, served_elder
from carevisit.fieldwork import problems as field_problems
from carevisit.storage.enums import ProblemCategory
from carevisit.volunteer_app import photos
from carevisit.volunteer_app.elder_choice import SEARCH_CHARS, elders_to_choose
from carevisit.volunteer_app.page_common import (
    FormRefused,
    bad_input,
    given_photo,
    int_of,
    not_found,
    read_form,
    refused_answer,
    render,
    visiting,
    write_turn,
)

# The order a volunteer reads them in: the common ones first.
CATEGORIES = (
    ProblemCategory.HEALTH,
    ProblemCategory.HOME_SAFETY,
    ProblemCategory.LIVING_DIFFICULTY,
    ProblemCategory.LONELINESS,
    ProblemCategory.CARER_OBLIGATION,
    ProblemCategory.INFECTIOUS,
    ProblemCategory.REFERRAL,
    ProblemCategory.OTHER,
)


async def problem_form(request: web.Request) -> web.StreamResponse:
    """`?elder=` (from a visit: `?visit=`) preselects the elder; without either, the volunteer picks one."""
    async with visiting(request) as (session, visitor):
        visit_id = int_of(request.query.get("visit"))
        elder = None
        try:
            if visit_id is not None:
                _visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=visitor.id)
            elif (elder_id := int_of(request.query.get("elder"))) is not None:
                elder = await served_elder(session, volunteer_id=visitor.id, elder_id=elder_id)
        except (VisitNotYours, ElderNotServed):
            return not_found(request, visitor)
        today = local_today(visitor.deps.clock, visitor.deps.zone)
        search = request.query.get("q", "")[:SEARCH_CHARS]
        choice = None if elder else await elders_to_choose(session, volunteer_id=visitor.id, today=today, search=search)
        return render(
            request,
            "v_problem.html",
            visitor,
            elder=elder,
            choice=choice,
            search=search,
            visit_id=visit_id,
            categories=CATEGORIES,
            upload_id=photos.new_upload_id(),
        )


async def report(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (session, visitor):
        w = visitor.words()
        try:
            form, uploaded = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        elder_id, visit_id = int_of(form.get("elder_id")), int_of(form.get("visit_id"))
        category = form.get("category", "")
        description = form.get("description", "").strip()
        if elder_id is None or category not in {c.value for c in CATEGORIES} or (form.get("visit_id") and not visit_id):
            return bad_input(request, visitor)
        if not description:
            return bad_input(request, visitor, w("problem.need_text"))
        photo = given_photo(request, visitor, form, uploaded)
        try:
            if visit_id is not None:
                _visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=visitor.id)
                if elder.id != elder_id:
                    return bad_input(request, visitor)  # a crafted pair: the visit is of another elder
            async with write_turn(request, session):
                reported = await field_problems.report(
                    session,
                    visitor.deps.field,
                    volunteer=visitor.volunteer,
                    elder_id=elder_id,
                    category=ProblemCategory(category),
                    description=description,
                    urgent=form.get("urgent") == "1",
                    visit_id=visit_id,
                    attachments=[{"kind": "photo", "ref": photo}] if photo else None,
                )
                await session.commit()  # the problem and its emergency before the next page
        except (ElderNotServed, VisitNotYours):
            return not_found(request, visitor)
        if reported.raised is not None:
            raise web.HTTPSeeOther(f"/v/incidents/{reported.raised.incident.id}")
        raise web.HTTPSeeOther("/v/?reported=1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v/problems/new", problem_form)
    app.router.add_post("/v/problems", report)
