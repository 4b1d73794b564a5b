"""Coordinator pages for one emergency: its full timeline (exportable), acknowledge, resolve with the handling
record, and starting a drill. Scoped like every dashboard page: only incidents of elders in the coordinator's
subtree exist for them."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import may_see
from carevisit.dashboard import display
from carevisit.dashboard.incident_record import FIELDS, reporter_actor, reporters_record
from carevisit.dashboard.views import _context, _deps, signed_in, words
from carevisit.escalation import incidents as incident_service
from carevisit.escalation import timeline
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.escalation.webhooks import POLICY
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Area, Coordinator, Elder, Incident


def add_routes(app: web.Application) -> None:
    app.router.add_get("/incidents/{incident_id:\\d+}", incident_page)
    app.router.add_post("/incidents/{incident_id:\\d+}/ack", incident_ack)
    app.router.add_post("/incidents/{incident_id:\\d+}/resolve", incident_resolve)
    app.router.add_get("/incidents/{incident_id:\\d+}/export.{fmt:(csv|json)}", incident_export)
    app.router.add_get("/drill", drill_page)
    app.router.add_post("/drill", drill_start)


_t = words


async def _visible(request: web.Request, session: AsyncSession, area: Area) -> tuple[Incident, Elder]:
    incident = await session.get(Incident, int(request.match_info["incident_id"]))
    elder = await session.get(Elder, incident.elder_id) if incident else None
    community = await session.get(Area, elder.community_id) if elder else None
    if incident is None or elder is None or community is None or not may_see(area, community):
        raise web.HTTPNotFound(text=_t(request)("show.incident.not_found"))
    return incident, elder


async def _render(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    *,
    error: str = "",
    typed: dict[str, str] | None = None,
) -> web.StreamResponse:
    """The page; `typed` is what the coordinator sent in a refused close form (shown again, not the reporter's)."""
    incident, elder = await _visible(request, session, area)
    entries = await timeline.incident_timeline(session, incident_id=incident.id or 0)
    t = _t(request)
    acknowledged_by = display.actor(t, await incident_service.describe_actor(session, incident.acknowledged_by))
    record = typed if typed is not None else await reporters_record(session, incident=incident)
    prefilled_from = ""
    if typed is None and any(record.values()):
        prefilled_from = display.actor(t, await incident_service.describe_actor(session, reporter_actor(incident)))
    context = _context(
        request,
        coordinator,
        area=area,
        incident=incident,
        elder=elder,
        kind=display.incident_kind(t, incident.kind, drill=incident.is_drill),
        steps=[(entry.at, display.step_sentence(t, entry)) for entry in entries],
        acknowledged_by=acknowledged_by,
        record=record,
        prefilled=t("show.incident.prefilled").format(who=prefilled_from) if prefilled_from else "",
        error=error,
    )
    return aiohttp_jinja2.render_template("incident.html", request, context, status=400 if error else 200)


@signed_in
async def incident_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _render(request, session, coordinator, area)


@signed_in
async def incident_ack(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    incident, _ = await _visible(request, session, area)
    deps = _deps(request)
    await incident_service.acknowledge(
        session,
        clock=deps.clock,
        incident_id=incident.id or 0,
        by=f"coordinator:{coordinator.id}",
        channel="dashboard",
        language=deps.language,
    )
    await session.commit()
    raise web.HTTPSeeOther(f"/incidents/{incident.id}")


@signed_in
async def incident_resolve(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    incident, _ = await _visible(request, session, area)
    deps = _deps(request)
    form = await request.post()
    was_resolved = incident.status == IncidentStatus.RESOLVED
    try:
        await incident_service.resolve(
            session,
            clock=deps.clock,
            incident_id=incident.id or 0,
            by=f"coordinator:{coordinator.id}",
            what_happened=str(form.get("what_happened", "")),
            actions_taken=str(form.get("actions_taken", "")),
            outcome=str(form.get("outcome", "")),
            language=deps.language,
        )
    except incident_service.IncidentError:  # raised before anything is written: nothing to roll back
        message = _t(request)("show.incident.already_resolved" if was_resolved else "show.incident.outcome_required")
        typed = {name: str(form.get(name, "")) for name in FIELDS}
        return await _render(request, session, coordinator, area, error=message, typed=typed)
    await session.commit()
    raise web.HTTPSeeOther(f"/incidents/{incident.id}")


@signed_in
async def incident_export(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    incident, _ = await _visible(request, session, area)
    entries = await timeline.incident_timeline(session, incident_id=incident.id or 0)
    if request.match_info["fmt"] == "json":
        body, kind = timeline.as_json(entries), "application/json"
    else:
        # BOM: Excel reads the Chinese correctly; times are the coordinator's, the header names the zone.
        body, kind = "\ufeff" + timeline.as_csv(entries, zone=_deps(request).zone), "text/csv"
    return web.Response(
        text=body,
        content_type=kind,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="incident-{incident.id}.{request.match_info["fmt"]}"'},
    )


@signed_in
async def drill_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    context = _context(request, coordinator, area=area, error="", elder_code="")
    return aiohttp_jinja2.render_template("drill.html", request, context)


@signed_in
async def drill_start(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = _deps(request)
    form = await request.post()
    code = str(form.get("elder_code", "")).strip()
    elder = (await session.exec(select(Elder).where(Elder.external_id == code))).first() if code else None
    community = await session.get(Area, elder.community_id) if elder else None
    if elder is None or community is None or not may_see(area, community):  # elsewhere or nowhere: one answer
        t = _t(request)
        error = t("show.incident.elder_not_found").format(code=code) if code else t("show.incident.elder_required")
        context = _context(request, coordinator, area=area, error=error, elder_code=code)
        return aiohttp_jinja2.render_template("drill.html", request, context, status=400)
    incident = await incident_service.open_incident(
        session,
        clock=deps.clock,
        policy=request.app.get(POLICY, DEFAULT_POLICY),
        elder_id=elder.id or 0,
        kind="drill",
        reporter_coordinator_id=coordinator.id,
        is_drill=True,
    )
    await session.commit()
    raise web.HTTPSeeOther(f"/incidents/{incident.id}")
