"""我的探访: a volunteer's visits, and confirming one in at most four taps from the list.

Tap 1 opens the visit (its page asks the mode), tap 2 picks the mode (a plain link), tap 3 answers how the elder is:
"一切正常" posts the confirmation (WELL, every checklist item fine) and is done; "紧急" posts it URGENT and lands
on the emergency page; "有问题" opens the checklist, where "全部正常" or the ticked concerns and "完成" post it
(tap 4). Only the final write is a POST (CSRF-checked, idempotent: a double submit finds the visit done). Then an
optional note, photo and location. Every step checks the visit is this volunteer's, in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today
from carevisit.care.confirmations import (
    CONCERN,
    OK,
    ElderNotServed,
    VisitClosed,
    VisitNotYours,
    add_visit_details,
    assigned_visit,
    served_elder,
    start_unplanned_visit,
)
from carevisit.care.month_close import is_open
from carevisit.care.visit_queries import visits_for_volunteer
from carevisit.fieldwork import visits as field_visits
from carevisit.storage.enums import VisitKind, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Elder, Visit
from carevisit.volunteer_app import photos
from carevisit.volunteer_app.elder_choice import SEARCH_CHARS, elders_to_choose
from carevisit.volunteer_app.emergency_views import open_incidents_reported_by
from carevisit.volunteer_app.page_common import (
    FormRefused,
    Visitor,
    add_write_turns,
    bad_input,
    given_photo,
    int_of,
    message,
    not_found,
    read_form,
    refused_answer,
    render,
    visiting,
    write_turn,
)

# The modes a volunteer reports by hand; remote monitoring is recorded by devices, not in the app.
MODES = (VisitMode.HOME, VisitMode.PHONE, VisitMode.VIDEO)
LIST_LIMIT = 30  # a small page on a weak connection: the nearest visits, the rest counted


@dataclass(frozen=True, slots=True)
class ListedVisit:
    visit: Visit
    elder: Elder
    overdue: bool
    actionable: bool  # its window has opened


def listed(rows: list[tuple[Visit, Elder]], *, today: date, now: datetime) -> list[ListedVisit]:
    """Overdue first, then by the nearest window end; windows not yet open last and not actionable."""
    items = []
    for visit, elder in rows:
        overdue = visit.window_end < today or (visit.deadline_at is not None and visit.deadline_at < now)
        items.append(ListedVisit(visit, elder, overdue=overdue, actionable=visit.window_start <= today))
    return sorted(items, key=lambda i: (not i.actionable, not i.overdue, i.visit.window_end, i.visit.id or 0))


def local_date(w, day: date) -> str:  # type: ignore[no-untyped-def]
    return w("date", month=day.month, day=day.day)


def window(w, visit: Visit) -> str:  # type: ignore[no-untyped-def]
    if visit.window_start == visit.window_end:
        return local_date(w, visit.window_start)
    return w("window", start=local_date(w, visit.window_start), end=local_date(w, visit.window_end))


def _today(visitor: Visitor) -> date:
    return local_today(visitor.deps.clock, visitor.deps.zone)


async def home(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (session, visitor):
        today = _today(visitor)
        rows = await visits_for_volunteer(session, volunteer_id=visitor.id, today=today)
        items = listed(rows, today=today, now=visitor.deps.clock.now())
        emergencies = await open_incidents_reported_by(session, volunteer_id=visitor.id)
        return render(
            request,
            "v_home.html",
            visitor,
            items=items[:LIST_LIMIT],
            emergencies=emergencies,
            more=max(0, len(items) - LIST_LIMIT),
            window=lambda visit: window(visitor.words(), visit),
            opens=lambda visit: local_date(visitor.words(), visit.window_start),
            reported=request.query.get("reported") == "1",
        )


async def _open_visit(
    request: web.Request, session: AsyncSession, visitor: Visitor
) -> tuple[Visit, Elder] | web.Response:
    """The visit of the URL if it is this volunteer's and may still be confirmed (or is done: then its done page),
    else the refusal to answer with."""
    visit_id = int_of(request.match_info.get("visit_id"))
    if visit_id is None:
        return not_found(request, visitor)
    try:
        visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=visitor.id)
    except VisitNotYours:
        return not_found(request, visitor)
    if visit.status == VisitStatus.DONE:
        raise web.HTTPSeeOther(f"/v/visits/{visit_id}/done")
    today = _today(visitor)
    if visit.status != VisitStatus.PLANNED or not is_open(visit.month, today=today):
        return _closed(request, visitor)
    if visit.window_start > today:
        return not_found(request, visitor)  # not yet open: nothing to confirm, as the list shows
    return visit, elder


def _closed(request: web.Request, visitor: Visitor) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.closed_title"), w("error.closed"), status=409)


def _mode_of(request: web.Request) -> VisitMode | None:
    value = request.query.get("mode", "")
    return VisitMode(value) if value in {m.value for m in MODES} else None


async def visit_page(request: web.Request) -> web.StreamResponse:
    """Tap 1: the visit, asking how it was made."""
    async with visiting(request) as (session, visitor):
        found = await _open_visit(request, session, visitor)
        if isinstance(found, web.Response):
            return found
        visit, elder = found
        return render(request, "v_visit_mode.html", visitor, visit=visit, elder=elder, modes=MODES)


async def outcome_page(request: web.Request) -> web.StreamResponse:
    """Tap 2: the mode chosen, asking how the elder is."""
    return await _after_mode(request, "v_visit_outcome.html")


async def checklist_page(request: web.Request) -> web.StreamResponse:
    """Tap 3 ("有问题"): the checklist, each concern a toggle, with an "all fine" shortcut."""
    return await _after_mode(request, "v_visit_checklist.html")


async def _after_mode(request: web.Request, template: str) -> web.StreamResponse:
    """A step once the mode is chosen: the visit still this volunteer's to confirm, and a mode we know."""
    async with visiting(request) as (session, visitor):
        found = await _open_visit(request, session, visitor)
        if isinstance(found, web.Response):
            return found
        mode = _mode_of(request)
        if mode is None:
            return bad_input(request, visitor)
        visit, elder = found
        checklist = visitor.deps.field.checklist
        return render(request, template, visitor, visit=visit, elder=elder, mode=mode, checklist=checklist)


@dataclass(frozen=True, slots=True)
class Answer:
    mode: VisitMode
    outcome: VisitOutcome
    all_fine: bool
    answers: dict[str, str]
    note: str


def answer_of(form: dict[str, str], checklist_keys: list[str]) -> Answer | None:
    """The confirmation a form posts, or None for anything a page of ours would not send (unknown mode or
    outcome: crafted fields change nothing)."""
    mode, outcome = form.get("mode", ""), form.get("outcome", "")
    if mode not in {m.value for m in MODES} or outcome not in {o.value for o in VisitOutcome}:
        return None
    all_fine = form.get("all_fine") == "1"
    if all_fine:  # "一切正常" on the outcome page, or "全部正常" on the checklist with nothing ticked
        return Answer(VisitMode(mode), VisitOutcome.WELL, True, {k: OK for k in checklist_keys}, form.get("note", ""))
    answers = {key: CONCERN if form.get(f"concern_{key}") == "1" else OK for key in checklist_keys}
    if VisitOutcome(outcome) != VisitOutcome.PROBLEM:
        answers = {}
    return Answer(VisitMode(mode), VisitOutcome(outcome), False, answers, form.get("note", ""))


def ticked_yet_all_fine(form: dict[str, str], checklist_keys: list[str]) -> bool:
    """ "全部正常" posted with concerns ticked (a page without its script shows both): a contradiction the server
    refuses rather than guess which was meant; what was ticked is never thrown away."""
    return form.get("all_fine") == "1" and any(form.get(f"concern_{key}") == "1" for key in checklist_keys)


async def confirm(request: web.Request) -> web.StreamResponse:
    """The final tap: confirm through the one service the bot uses too, commit, then show where it led."""
    async with visiting(request) as (session, visitor):
        try:
            form, _ = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        found = await _open_visit(request, session, visitor)  # a second submit finds it done: its done page
        if isinstance(found, web.Response):
            return found
        visit_id = found[0].id
        assert visit_id is not None
        keys = [item.key for item in visitor.deps.field.checklist]
        if ticked_yet_all_fine(form, keys):
            return bad_input(request, visitor, visitor.words()("checklist.contradiction"))
        answer = answer_of(form, keys)
        if answer is None:
            return bad_input(request, visitor)
        try:
            async with write_turn(request, session):
                done = await field_visits.confirm(
                    session,
                    visitor.deps.field,
                    volunteer=visitor.volunteer,
                    visit_id=visit_id,
                    mode=answer.mode,
                    outcome=answer.outcome,
                    answers=answer.answers,
                    all_fine=answer.all_fine,
                    note=answer.note.strip() or None,
                )
                await session.commit()  # the confirmation and any emergency it raised, before the next page
        except VisitNotYours:
            return not_found(request, visitor)
        except VisitClosed:
            return _closed(request, visitor)
        if done.raised is not None:
            raise web.HTTPSeeOther(f"/v/incidents/{done.raised.incident.id}")
        problems = len(done.confirmation.problems)
        raise web.HTTPSeeOther(f"/v/visits/{visit_id}/done" + (f"?problems={problems}" if problems else ""))


async def done_page(request: web.Request) -> web.StreamResponse:
    """After the confirmation: thanks, and an optional note, photo and location."""
    async with visiting(request) as (session, visitor):
        visit_id = int_of(request.match_info.get("visit_id"))
        try:
            visit, elder = await assigned_visit(session, visit_id=visit_id or 0, volunteer_id=visitor.id)
        except VisitNotYours:
            return not_found(request, visitor)
        if visit.status != VisitStatus.DONE:
            raise web.HTTPSeeOther(f"/v/visits/{visit_id}")
        return render(
            request,
            "v_visit_done.html",
            visitor,
            visit=visit,
            elder=elder,
            problems=int_of(request.query.get("problems")) or 0,
            saved=request.query.get("saved") == "1",
            upload_id=photos.new_upload_id(),
            photo_name=_own_photo_name(visitor, visit.photo_ref),
        )


def new_note(saved: str | None, posted: str | None) -> str | None:
    """The posted note unless the visit's note already holds it (保存 tapped twice, a resent form): notes are
    appended, so the same words would otherwise be kept twice."""
    text = (posted or "").strip()
    if not text or text in (saved or "").split("\n"):
        return None
    return text


def _own_photo_name(visitor: Visitor, ref: str | None) -> str | None:
    """The file name under /v/photos/ of a visit's photo this volunteer took in the app (a bot photo has none)."""
    prefix = f"{photos.PREFIX}{visitor.id}/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) else None


def _coordinate(value: str | None, limit: float) -> float | None:
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    return number if -limit <= number <= limit else None


async def details(request: web.Request) -> web.StreamResponse:
    """The note, photo and location of a confirmed visit (each optional; notes are appended)."""
    async with visiting(request) as (session, visitor):
        visit_id = int_of(request.match_info.get("visit_id"))
        try:
            form, uploaded = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        latitude, longitude = _coordinate(form.get("lat"), 90), _coordinate(form.get("lon"), 180)
        try:
            visit, _elder = await assigned_visit(session, visit_id=visit_id or 0, volunteer_id=visitor.id)
            async with write_turn(request, session):
                await add_visit_details(
                    session,
                    clock=visitor.deps.clock,
                    visit_id=visit_id or 0,
                    volunteer_id=visitor.id,
                    note=new_note(visit.note, form.get("note")),
                    photo_ref=given_photo(request, visitor, form, uploaded),
                    latitude=latitude if longitude is not None else None,
                    longitude=longitude if latitude is not None else None,
                )
                await session.commit()
        except VisitNotYours:
            return not_found(request, visitor)
        except VisitClosed:
            return _closed(request, visitor)
        problems = int_of(form.get("problems"))
        raise web.HTTPSeeOther(f"/v/visits/{visit_id}/done?saved=1" + (f"&problems={problems}" if problems else ""))


async def upload_photo(request: web.Request) -> web.StreamResponse:
    """A photo sent by the page's script before its form (so a weak connection can retry it alone). Idempotent by
    the page's upload id: a retry returns the first upload's reference. With `visit_id` (a confirmed visit's page)
    the photo is attached to that visit here and now: "照片已上传" then means it is kept, whatever the volunteer
    does next."""
    async with visiting(request) as (session, visitor):
        w = visitor.words()
        try:
            form, ref = await read_form(request, visitor)
        except FormRefused as refused:
            too_big = w("photo.too_big", mb=photos.MAX_BYTES // (1024 * 1024))
            return web.json_response(
                {"error": too_big if refused.reason == "too_big" else w("photo.not_image")}, status=400
            )
        if ref is None:
            return web.json_response({"error": w("photo.not_image")}, status=400)
        if form.get("visit_id"):
            visit_id = int_of(form.get("visit_id"))
            try:
                async with write_turn(request, session):
                    await add_visit_details(
                        session,
                        clock=visitor.deps.clock,
                        visit_id=visit_id or 0,
                        volunteer_id=visitor.id,
                        photo_ref=ref,
                    )
                    await session.commit()
            except (VisitNotYours, VisitClosed):
                return web.json_response({"error": w("error.not_found")}, status=404)
        return web.json_response({"ref": ref})


# --- an unplanned visit: the elder, the mode, then the same confirmation ------------------------------------------


async def unplanned_page(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (session, visitor):
        search = request.query.get("q", "")[:SEARCH_CHARS]
        today = local_today(visitor.deps.clock, visitor.deps.zone)
        choice = await elders_to_choose(session, volunteer_id=visitor.id, today=today, search=search)
        return render(request, "v_unplanned.html", visitor, choice=choice, search=search, modes=MODES)


async def unplanned_elder(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (session, visitor):
        try:
            elder = await served_elder(
                session, volunteer_id=visitor.id, elder_id=int_of(request.match_info.get("elder_id")) or 0
            )
        except ElderNotServed:
            return not_found(request, visitor)
        return render(request, "v_unplanned_mode.html", visitor, elder=elder, modes=MODES)


async def start_unplanned(request: web.Request) -> web.StreamResponse:
    """Creates the visit (or takes the one a double submit created today) and goes on to "how is the elder"."""
    async with visiting(request) as (session, visitor):
        try:
            form, _ = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        elder_id, mode = int_of(form.get("elder_id")), form.get("mode", "")
        if elder_id is None or mode not in {m.value for m in MODES}:
            return bad_input(request, visitor)
        today = _today(visitor)
        try:
            await served_elder(session, volunteer_id=visitor.id, elder_id=elder_id)
        except ElderNotServed:
            return not_found(request, visitor)
        visit = await _todays_unplanned(session, volunteer_id=visitor.id, elder_id=elder_id, today=today)
        if visit is None:
            async with write_turn(request, session):
                visit = await start_unplanned_visit(
                    session,
                    clock=visitor.deps.clock,
                    volunteer_id=visitor.id,
                    elder_id=elder_id,
                    today=today,
                    mode=VisitMode(mode),
                )
                await session.commit()
        raise web.HTTPSeeOther(f"/v/visits/{visit.id}/how?mode={mode}")


async def _todays_unplanned(session: AsyncSession, *, volunteer_id: int, elder_id: int, today: date) -> Visit | None:
    """An unplanned visit of today by this volunteer not confirmed yet: a second "start" continues it."""
    statement = select(Visit).where(
        Visit.volunteer_id == volunteer_id,
        Visit.elder_id == elder_id,
        col(Visit.kind) == VisitKind.UNPLANNED,
        col(Visit.status) == VisitStatus.PLANNED,
        col(Visit.window_start) == today,
    )
    return (await session.exec(statement)).first()


def add_routes(app: web.Application) -> None:
    from carevisit.volunteer_app import problem_views  # its routes are the visit pages' neighbours

    add_write_turns(app)
    app.router.add_get("/v/", home)
    app.router.add_get("/v/visits/{visit_id}", visit_page)
    app.router.add_get("/v/visits/{visit_id}/how", outcome_page)
    app.router.add_get("/v/visits/{visit_id}/checklist", checklist_page)
    app.router.add_post("/v/visits/{visit_id}/confirm", confirm)
    app.router.add_get("/v/visits/{visit_id}/done", done_page)
    app.router.add_post("/v/visits/{visit_id}/details", details)
    app.router.add_post("/v/photos", upload_photo)
    app.router.add_get("/v/unplanned", unplanned_page)
    app.router.add_get("/v/unplanned/{elder_id}", unplanned_elder)
    app.router.add_post("/v/unplanned", start_unplanned)
    problem_views.add_routes(app)
