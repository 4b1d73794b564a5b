"""The elder's page and what a coordinator does from it: order an extra visit, give a visit to a named volunteer,
pause / resume / moved / deceased. Also the page for assigning any one visit (`/visits/{id}/assign`).

Every view scopes to the coordinator's area subtree (an elder or visit outside it is not found, like one that
does not exist), parses its form, calls one domain function and renders. A POST that succeeds redirects with an
outcome code and numbers (never text from the request), so a reload does not repeat it and a crafted link cannot
put words on the page.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiMapping
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today, month_of
from carevisit.care.confirmations import DEFAULT_CHECKLIST
from carevisit.care.elder_record import ElderRecord, elder_record
from carevisit.care.phone_privacy import shown_phone
from carevisit.care.volunteer_roster import volunteer_in_area
from carevisit.dashboard import display, views
from carevisit.scheduler.assign import (
    OverCapacity,
    VisitNotFound,
    VisitNotOpen,
    VolunteerCannotServe,
    assign_visit,
    candidates,
    visit_in_area,
)
from carevisit.scheduler.elder_pause import pause_elder, resume_elder
from carevisit.scheduler.elder_status import LEAVING, mark_left, may_change, open_visit_count
from carevisit.scheduler.extra_visits import ExtraVisitError, order_extra_visits
from carevisit.storage.enums import ElderStatus, VisitMode, VisitStatus
from carevisit.storage.models import Area, Coordinator, Elder, Visit, Volunteer

_MAX_ID = 2**31 - 1  # the database's integer: a longer id in a URL names nothing
_MAX_HOURS = 24 * 31
_BACKS = ("elder", "unassigned")  # where an assignment may return to: fixed paths, never a URL from the form


def add_routes(app: web.Application) -> None:
    app.router.add_get("/elders/{elder_id:\\d+}", elder_page)
    app.router.add_post("/elders/{elder_id:\\d+}/extra", order_extra)
    app.router.add_post("/elders/{elder_id:\\d+}/pause", pause)
    app.router.add_post("/elders/{elder_id:\\d+}/resume", resume)
    app.router.add_post("/elders/{elder_id:\\d+}/leave", leave)
    app.router.add_get("/visits/{visit_id:\\d+}/assign", assign_page)
    app.router.add_post("/visits/{visit_id:\\d+}/assign", assign)


# --- parsing ------------------------------------------------------------------------------------------------------


_t = views.words


def _path_id(request: web.Request, name: str) -> int:
    value = _number(request.match_info[name])  # the route's \d admits any script's digits, of any length
    if value is None:
        raise web.HTTPNotFound(text=_t(request)("people.elder.not_found"))
    return value


def _number(text: str) -> int | None:
    """A whole number as a form or link writes it, within the database's integers; else None. (str.isdigit alone
    lets through '²', which int() refuses, and a 5,000-digit string, which int() refuses too.)"""
    text = text.strip()
    if not (text.isascii() and text.isdecimal() and len(text) <= 10) or int(text) > _MAX_ID:
        return None
    return int(text)


def _form_id(form: MultiMapping[Any], name: str) -> int | None:
    return _number(str(form.get(name, "")))


def _who(request: web.Request, person: Volunteer | Elder) -> str:
    """A person as the page names them: name and roster id (编号), never a database id."""
    return _t(request)("people.elder.who").format(name=person.name, id=person.external_id)


def _today(request: web.Request) -> date:
    deps = views._deps(request)
    return local_today(deps.clock, deps.zone)


def _actor(coordinator: Coordinator) -> str:
    return f"coordinator:{coordinator.id}"


async def _record(request: web.Request, session: AsyncSession, area: Area) -> ElderRecord:
    record = await elder_record(session, area=area, elder_id=_path_id(request, "elder_id"))
    if record is None:
        raise web.HTTPNotFound(text=_t(request)("people.elder.not_found"))
    return record


# --- the elder's page ---------------------------------------------------------------------------------------------


async def _render_elder(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    record: ElderRecord,
    *,
    error: str = "",
    confirm_leave: dict[str, Any] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    elder = record.elder
    month = month_of(_today(request))
    open_visits = [line.visit for line in record.visits if line.visit.status == VisitStatus.PLANNED]
    context = views._context(
        request,
        coordinator,
        area=area,
        record=record,
        elder=elder,
        phones=[shown_phone(number, coordinator.role) for number in (elder.phone, elder.phone2) if number],
        contact_phones={c.id: shown_phone(c.phone, coordinator.role) for c in record.contacts},
        checklist=[item.key for item in DEFAULT_CHECKLIST],
        open_visits=open_visits,
        candidates=await candidates(session, community_id=elder.community_id, month=month) if open_visits else [],
        modes=list(VisitMode),
        message=await outcome_message(request, session, area),
        error=error,
        confirm_leave=confirm_leave,
        today=_today(request),
    )
    response = aiohttp_jinja2.render_template("elder.html", request, context, status=status)
    response.headers["Cache-Control"] = "no-store"  # names, addresses and phones: not for shared caches
    return response


@views.signed_in
async def elder_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _render_elder(request, session, coordinator, area, await _record(request, session, area))


# Outcomes carried through the redirect: a code and numbers only; the words are the server's.
_OUTCOMES = {
    "paused": "people.elder.done.paused",
    "resumed": "people.elder.done.resumed",
    "moved": "people.elder.done.moved",
    "deceased": "people.elder.done.deceased",
    "extra": "people.elder.done.extra",
    "extra_not_eligible": "people.elder.done.extra_not_eligible",
    "extra_already": "people.elder.done.extra_already",
    "assigned": "people.elder.done.assigned",
    "assigned_over": "people.elder.done.assigned_over",
    "already_assigned": "people.elder.done.already_assigned",
}


def _done(path: str, outcome: str, *, area: str | None = None, **numbers: int) -> web.HTTPSeeOther:
    where = {"area": area} if area else {}  # a list goes back to the area it was showing
    return web.HTTPSeeOther(f"{path}?" + urlencode({**where, "done": outcome, **numbers}))


async def outcome_message(request: web.Request, session: AsyncSession, area: Area) -> str:
    """The sentence for `?done=…`, or "" when the link lacks a number the sentence needs (a crafted link) or names
    a volunteer this coordinator may not see."""
    key = _OUTCOMES.get(request.query.get("done", ""))
    if key is None:
        return ""
    text = _t(request)(key)
    values: dict[str, object] = {}
    for name in ("n", "m", "u"):
        number = _number(request.query.get(name, ""))
        if "{" + name + "}" in text and number is None:
            return ""
        values[name] = number
    if "{who}" in text:
        volunteer_id = _number(request.query.get("v", ""))
        volunteer = await volunteer_in_area(session, area=area, volunteer_id=volunteer_id) if volunteer_id else None
        if volunteer is None:
            return ""
        values["who"] = _who(request, volunteer)
    return text.format(**values)


# --- actions on the elder -----------------------------------------------------------------------------------------


@views.signed_in
async def order_extra(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    record = await _record(request, session, area)
    t = _t(request)
    form = await request.post()
    hours_text = str(form.get("within_hours", "")).strip()
    reason = str(form.get("reason", "")).strip()
    mode = next((m for m in VisitMode if m.value == form.get("mode", VisitMode.HOME.value)), None)
    problem = _extra_problem(hours_text, reason, mode)
    if problem or mode is None:
        return await _render_elder(request, session, coordinator, area, record, error=t(problem), status=400)
    deps = views._deps(request)
    try:
        order = await order_extra_visits(
            session,
            clock=deps.clock,
            zone=deps.zone,
            deadline=deps.clock.now() + timedelta(hours=_number(hours_text) or 0),
            reason=reason,
            actor=_actor(coordinator),
            mode=mode,
            elder_ids=[record.elder.id or 0],
        )
    except ExtraVisitError:  # the form was checked above; the domain's own refusal still changes nothing
        return await _render_elder(request, session, coordinator, area, record, error=t("bad_request"), status=400)
    await session.commit()
    here = f"/elders/{record.elder.id}"
    if order.skipped_not_eligible:
        raise _done(here, "extra_not_eligible")
    if order.skipped_already_ordered:
        raise _done(here, "extra_already")
    raise _done(here, "extra", n=len(order.visits), u=order.unassigned)


def _extra_problem(hours: str, reason: str, mode: VisitMode | None) -> str:
    """The key of what is wrong with an extra-visit form, or "" when nothing is."""
    number = _number(hours)
    if number is None or not 1 <= number <= _MAX_HOURS:
        return "people.elder.bad.within_hours"
    if not reason or len(reason) > 300:
        return "people.elder.bad.reason"
    return "" if mode is not None else "people.elder.bad.mode"


async def _refuse_status(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area, record: ElderRecord
) -> web.StreamResponse:
    t = _t(request)
    current = display.label(t, "elder_status", record.elder.status)
    error = t("people.elder.bad.status").format(status=current)
    return await _render_elder(request, session, coordinator, area, record, error=error, status=400)


@views.signed_in
async def pause(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    record = await _record(request, session, area)
    form = await request.post()
    until_text = str(form.get("until", "")).strip()
    try:
        until = date.fromisoformat(until_text) if until_text else None
    except ValueError:
        until = date.min
    if until is not None and until < _today(request):
        error = _t(request)("people.elder.bad.until")
        return await _render_elder(request, session, coordinator, area, record, error=error, status=400)
    if not may_change(record.elder.status, ElderStatus.PAUSED):
        return await _refuse_status(request, session, coordinator, area, record)
    result = await pause_elder(
        session, clock=views._deps(request).clock, elder_id=record.elder.id or 0, until=until, actor=_actor(coordinator)
    )
    await session.commit()
    raise _done(f"/elders/{record.elder.id}", "paused", n=result.cancelled, m=result.shortened)


@views.signed_in
async def resume(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    record = await _record(request, session, area)
    if not may_change(record.elder.status, ElderStatus.ACTIVE):
        return await _refuse_status(request, session, coordinator, area, record)
    await resume_elder(
        session, clock=views._deps(request).clock, elder_id=record.elder.id or 0, actor=_actor(coordinator)
    )
    await session.commit()
    raise _done(f"/elders/{record.elder.id}", "resumed")


@views.signed_in
async def leave(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """Moved away or deceased ends the plan, so it asks first: without `confirm` the page shows the question."""
    record = await _record(request, session, area)
    t = _t(request)
    form = await request.post()
    status = next((s for s in LEAVING if s.value == form.get("status")), None)
    if status is None:
        error = t("people.elder.bad.leave")
        return await _render_elder(request, session, coordinator, area, record, error=error, status=400)
    elder: Elder = record.elder
    if not may_change(elder.status, status):
        return await _refuse_status(request, session, coordinator, area, record)
    if form.get("confirm") != "yes":
        question = t("people.elder.confirm_leave").format(
            name=elder.name,
            status=display.label(t, "elder_status", status),
            n=await open_visit_count(session, elder_id=elder.id or 0),
        )
        return await _render_elder(
            request, session, coordinator, area, record, confirm_leave={"status": status.value, "question": question}
        )
    cancelled = await mark_left(
        session, clock=views._deps(request).clock, elder_id=elder.id or 0, status=status, actor=_actor(coordinator)
    )
    await session.commit()
    raise _done(f"/elders/{elder.id}", status.value, n=cancelled)


# --- assigning one visit ------------------------------------------------------------------------------------------


async def _visit(request: web.Request, session: AsyncSession, area: Area) -> tuple[Visit, Elder]:
    try:
        return await visit_in_area(session, area=area, visit_id=_path_id(request, "visit_id"))
    except VisitNotFound:
        raise web.HTTPNotFound(text=_t(request)("people.elder.visit_not_found")) from None


def _list_area(request: web.Request, form: Any) -> str | None:
    """The area code the unassigned list was showing (only ever a code: the list checks it again)."""
    code = str(form.get("area") or request.query.get("area") or "")
    return code if code.isalnum() and len(code) <= 32 else None


def _back(value: object) -> str:
    return str(value) if value in _BACKS else "elder"


async def _render_assign(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    visit: Visit,
    elder: Elder,
    *,
    back: str,
    error: str = "",
    over: dict[str, Any] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    context = views._context(
        request,
        coordinator,
        area=area,
        visit=visit,
        elder=elder,
        candidates=await candidates(session, community_id=elder.community_id, month=visit.month),
        current=await volunteer_in_area(session, area=area, volunteer_id=visit.volunteer_id)
        if visit.volunteer_id
        else None,
        back=back,
        list_area=_list_area(request, {}) if back == "unassigned" else None,
        error=error,
        over=over,
    )
    response = aiohttp_jinja2.render_template("assign.html", request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@views.signed_in
async def assign_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    visit, elder = await _visit(request, session, area)
    return await _render_assign(
        request, session, coordinator, area, visit, elder, back=_back(request.query.get("back"))
    )


@views.signed_in
async def assign(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """Two steps when over capacity: the first POST shows the load and asks; `over_capacity_ok` assigns."""
    visit, elder = await _visit(request, session, area)
    t = _t(request)
    form = await request.post()
    back = _back(form.get("back"))
    volunteer_id = _form_id(form, "volunteer")

    async def again(error: str = "", over: dict[str, Any] | None = None) -> web.StreamResponse:
        status = 400 if error else 200
        return await _render_assign(
            request, session, coordinator, area, visit, elder, back=back, error=error, over=over, status=status
        )

    if volunteer_id is None:
        return await again(t("people.elder.bad.volunteer"))
    deps = views._deps(request)
    try:
        result = await assign_visit(
            session,
            clock=deps.clock,
            zone=deps.zone,
            area=area,
            visit_id=visit.id or 0,
            volunteer_id=volunteer_id,
            actor=_actor(coordinator),
            over_capacity_ok=form.get("over_capacity_ok") == "yes",
            language=deps.language,
        )
    except VisitNotOpen:
        return await again(t("people.elder.bad.visit_not_open"))
    except VolunteerCannotServe:
        return await again(t("people.elder.bad.volunteer"))
    except OverCapacity as over:
        volunteer = await volunteer_in_area(session, area=area, volunteer_id=volunteer_id)
        who = _who(request, volunteer) if volunteer else ""
        return await again(
            over={
                "volunteer": volunteer_id,
                "warning": t("people.elder.over_capacity").format(n=over.load, m=over.capacity),
                "question": t("people.elder.over_capacity_question").format(who=who),
            }
        )
    await session.commit()
    path = f"/elders/{elder.id}" if back == "elder" else "/unassigned"
    list_area = _list_area(request, form) if back == "unassigned" else None
    if result.unchanged:
        raise _done(path, "already_assigned", area=list_area, v=volunteer_id)
    if result.over_capacity:
        raise _done(path, "assigned_over", area=list_area, v=volunteer_id, n=result.load, m=result.volunteer.capacity)
    raise _done(path, "assigned", area=list_area, v=volunteer_id)
