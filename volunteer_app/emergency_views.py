"""Emergencies from the app: one tap from the home page (choose the elder) or a visit; the numbers 120/110/119 and
the elder's contacts as `tel:` links; then, live, who was paged and who acknowledged; and the handling record.

The incident is opened exactly as the bot opens it (fieldwork.emergencies.raise_emergency: a second SOS for the
same elder joins the one under way) and committed before the page answers. Only its reporter or a volunteer of the
elder's community may see it; anyone else gets the same "not found" as for an incident that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today
from carevisit.care.confirmations import ElderNotServed, VisitNotYours, assigned_visit, served_elder
from carevisit.care.people import emergency_contacts
from carevisit.escalation.incidents import IncidentError, add_note, describe_actor, resolve
from carevisit.escalation.pager import not_really_sent
from carevisit.escalation.timeline import Entry, incident_timeline
from carevisit.fieldwork.emergencies import raise_emergency
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Elder, Incident, IncidentNote, VolunteerCommunity
from carevisit.volunteer_app import emergency_texts
from carevisit.volunteer_app.elder_choice import SEARCH_CHARS, elders_to_choose
from carevisit.volunteer_app.page_common import (
    FormRefused,
    Visitor,
    bad_input,
    int_of,
    not_found,
    read_form,
    refused_answer,
    render,
    visiting,
    write_turn,
)

NUMBERS = (("120", "sos.120"), ("110", "sos.110"), ("119", "sos.119"))
POLL_SECONDS = 5
NOT_SENT = "not_sent"  # the status shown for a page the console pager only logged


@dataclass(frozen=True, slots=True)
class Paged:
    who: str
    channel: str
    status: str


@dataclass(frozen=True, slots=True)
class Paging:
    """What the reporter is shown of an incident's escalation: each page sent and its latest state."""

    paged: list[Paged]
    acknowledged: bool
    acknowledged_by: str
    resolved: bool
    # Some page went only to the console pager's log (no SMS/voice provider): nobody was told by it, and the
    # volunteer must know to call the family themselves.
    unsent: bool = False


def _shown_who(who: str) -> str:
    """A described person ("王芳（女儿）"), never an internal reference ("coordinator:3") on screen."""
    kind, colon, _rest = who.partition(":")
    return "" if colon and kind.isascii() else who


def paging_of(entries: list[Entry]) -> Paging:
    """Each (person, channel, address) paged, with the latest status its messages reached, in the order sent."""
    latest: dict[tuple[str, str, str], str] = {}
    for entry in entries:
        if entry.event in ("queued", "chat", "status"):
            key = (_shown_who(entry.who), entry.channel, entry.to)
            status = NOT_SENT if entry.event == "status" and not_really_sent(entry.sid) else entry.status
            latest[key] = status or latest.get(key) or "pending"
    acked = next((e for e in entries if e.event == "acknowledged"), None)
    return Paging(
        paged=[Paged(who, channel, status) for (who, channel, _to), status in latest.items()],
        acknowledged=acked is not None,
        acknowledged_by=_shown_who(acked.who) if acked else "",
        resolved=any(e.event == "resolved" for e in entries),
        unsent=NOT_SENT in latest.values(),
    )


async def incident_for(session: AsyncSession, *, incident_id: int, volunteer_id: int) -> tuple[Incident, Elder] | None:
    """The incident if this volunteer reported it or serves the elder's community, with its elder; else None."""
    row = (
        await session.exec(
            select(Incident, Elder)
            .join(Elder, col(Elder.id) == col(Incident.elder_id))
            .where(col(Incident.id) == incident_id)
        )
    ).first()
    if row is None:
        return None
    incident, elder = row
    if incident.reporter_volunteer_id == volunteer_id:
        return incident, elder
    serves = await session.exec(
        select(VolunteerCommunity).where(
            VolunteerCommunity.volunteer_id == volunteer_id, VolunteerCommunity.area_id == elder.community_id
        )
    )
    return (incident, elder) if serves.first() is not None else None


async def open_incidents_reported_by(session: AsyncSession, *, volunteer_id: int) -> list[tuple[Incident, Elder]]:
    """The emergencies this volunteer raised that are not resolved yet, newest first: the home page leads back."""
    rows = await session.exec(
        select(Incident, Elder)
        .join(Elder, col(Elder.id) == col(Incident.elder_id))
        .where(col(Incident.reporter_volunteer_id) == volunteer_id, col(Incident.status) != IncidentStatus.RESOLVED)
        .order_by(col(Incident.id).desc())
        .limit(5)
    )
    return [(incident, elder) for incident, elder in rows.all()]


def _words(visitor: Visitor):  # type: ignore[no-untyped-def]
    return visitor.words(emergency_texts.TEXTS)


async def sos_page(request: web.Request) -> web.StreamResponse:
    """The numbers first (the volunteer may not get further), then one button per elder: their own first, then
    every other elder of their communities."""
    async with visiting(request) as (session, visitor):
        today = local_today(visitor.deps.clock, visitor.deps.zone)
        search = request.query.get("q", "")[:SEARCH_CHARS]
        choice = await elders_to_choose(session, volunteer_id=visitor.id, today=today, search=search)
        return render(request, "v_sos.html", visitor, e=_words(visitor), numbers=NUMBERS, choice=choice, search=search)


async def raise_sos(request: web.Request) -> web.StreamResponse:
    """`elder_id` (from the SOS page) or `visit_id` (from a visit): opens or joins the elder's incident."""
    async with visiting(request) as (session, visitor):
        try:
            form, _ = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        visit_id, elder_id = int_of(form.get("visit_id")), int_of(form.get("elder_id"))
        try:
            if visit_id is not None:
                _visit, elder = await assigned_visit(session, visit_id=visit_id, volunteer_id=visitor.id)
            elif elder_id is not None:
                elder = await served_elder(session, volunteer_id=visitor.id, elder_id=elder_id)
            else:
                return bad_input(request, visitor)
        except (VisitNotYours, ElderNotServed):
            return not_found(request, visitor)
        async with write_turn(request, session):
            raised = await raise_emergency(
                session, visitor.deps.field, volunteer=visitor.volunteer, elder=elder, visit_id=visit_id
            )
            await session.commit()  # the incident exists before anything is shown
        suffix = "?joined=1" if raised.joined else ""
        raise web.HTTPSeeOther(f"/v/incidents/{raised.incident.id}{suffix}")


async def _paging(session: AsyncSession, incident: Incident) -> Paging:
    assert incident.id is not None
    return paging_of(await incident_timeline(session, incident_id=incident.id))


async def incident_page(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (session, visitor):
        found = await incident_for(
            session, incident_id=int_of(request.match_info.get("incident_id")) or 0, volunteer_id=visitor.id
        )
        if found is None:
            return not_found(request, visitor)
        incident, elder = found
        assert elder.id is not None and incident.id is not None
        notes = (
            await session.exec(
                select(IncidentNote).where(IncidentNote.incident_id == incident.id).order_by(col(IncidentNote.id))
            )
        ).all()
        return render(
            request,
            "v_incident.html",
            visitor,
            e=_words(visitor),
            incident=incident,
            elder=elder,
            numbers=NUMBERS,
            contacts=await emergency_contacts(session, elder_id=elder.id),
            paging=await _paging(session, incident),
            notes=[(note, await describe_actor(session, note.author)) for note in notes],
            joined=request.query.get("joined") == "1",
            saved=request.query.get("saved") == "1",
            cancellable=may_cancel(incident, volunteer_id=visitor.id),
            poll_seconds=POLL_SECONDS,
            local=lambda moment: moment.astimezone(visitor.deps.zone).strftime("%H:%M"),
        )


async def incident_status(request: web.Request) -> web.StreamResponse:
    """The paging block alone, for the page's script to refresh every few seconds (small, on a weak line)."""
    async with visiting(request) as (session, visitor):
        found = await incident_for(
            session, incident_id=int_of(request.match_info.get("incident_id")) or 0, volunteer_id=visitor.id
        )
        if found is None:
            return not_found(request, visitor)
        incident, _elder = found
        paging = await _paging(session, incident)
        return render(request, "v_paging.html", visitor, e=_words(visitor), incident=incident, paging=paging)


async def record(request: web.Request) -> web.StreamResponse:
    """The handling record (事后处置记录) as the bot asks for it: what happened, what was done, how it ended."""
    async with visiting(request) as (session, visitor):
        found = await incident_for(
            session, incident_id=int_of(request.match_info.get("incident_id")) or 0, volunteer_id=visitor.id
        )
        if found is None:
            return not_found(request, visitor)
        try:
            form, _ = await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        parts = {name: form.get(name, "").strip() for name in ("what_happened", "actions_taken", "outcome")}
        if not any(parts.values()):
            return bad_input(request, visitor, _words(visitor)("incident.need_text"))
        incident, _elder = found
        assert incident.id is not None
        async with write_turn(request, session):
            author = f"volunteer:{visitor.id}"
            add_note(session, clock=visitor.deps.clock, incident_id=incident.id, author=author, **parts)
            await session.commit()
        raise web.HTTPSeeOther(f"/v/incidents/{incident.id}?saved=1#record")


def may_cancel(incident: Incident, *, volunteer_id: int) -> bool:
    """Its reporter may call it a false alarm while nobody has taken it on (once someone has, they close it)."""
    return incident.reporter_volunteer_id == volunteer_id and incident.status == IncidentStatus.OPEN


async def cancel(request: web.Request) -> web.StreamResponse:
    """误报，取消: the reporter resolves their own alarm as false, through the escalation service as a coordinator
    would (paging stops; whoever was paged by SMS gets the all-clear). Anyone else, or once acknowledged: refused,
    nothing changes."""
    async with visiting(request) as (session, visitor):
        found = await incident_for(
            session, incident_id=int_of(request.match_info.get("incident_id")) or 0, volunteer_id=visitor.id
        )
        if found is None:
            return not_found(request, visitor)
        try:
            await read_form(request, visitor)
        except FormRefused as refused:
            return refused_answer(request, visitor, refused)
        incident, _elder = found
        assert incident.id is not None
        e = _words(visitor)
        async with write_turn(request, session):
            await session.refresh(incident)  # as it is now: an acknowledgement may have come since the page
            if not may_cancel(incident, volunteer_id=visitor.id):
                return bad_input(request, visitor, e("incident.cancel_refused"))
            try:
                await resolve(
                    session,
                    clock=visitor.deps.clock,
                    incident_id=incident.id,
                    by=f"volunteer:{visitor.id}",
                    what_happened=e("incident.false_alarm_what"),
                    actions_taken="",
                    outcome=e("incident.false_alarm_outcome"),
                    language=visitor.language,
                )
            except IncidentError:
                return bad_input(request, visitor, e("incident.cancel_refused"))
            await session.commit()
        raise web.HTTPSeeOther(f"/v/incidents/{incident.id}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v/sos", sos_page)
    app.router.add_post("/v/sos", raise_sos)
    app.router.add_get("/v/incidents/{incident_id}", incident_page)
    app.router.add_get("/v/incidents/{incident_id}/status", incident_status)
    app.router.add_post("/v/incidents/{incident_id}/record", record)
    app.router.add_post("/v/incidents/{incident_id}/cancel", cancel)
