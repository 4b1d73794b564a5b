"""Coordinator pages for one emergency: its full timeline (exportable), acknowledge, resolve with the handling
record, and starting a drill. Scoped like every dashboard page: only incidents of elders in the coordinator's
subtree exist for them."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import may_see
from carevisit.dashboard.views import _context, _deps, signed_in
from carevisit.escalation import incidents as incident_service
from carevisit.escalation import timeline
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.escalation.webhooks import POLICY
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Area, Coordinator, Elder, Incident

_LABELS = {
    "zh_CN": {
        "incident": "紧急事件",
        "drill": "演练",
        "timeline": "处置经过",
        "acknowledge": "我来处理（确认收到）",
        "resolve": "结案并写处置记录",
        "what_happened": "发生了什么",
        "actions_taken": "采取的措施",
        "outcome": "结果（必填）",
        "export": "导出",
        "start_drill": "发起演练",
        "drill_help": "向该老人的紧急联系人发送标明“演练”的测试通知，走与真实事件相同的流程，找出失效号码。",
        "elder_code": "老人编号",
        "at": "时间",
        "what": "事项",
        "who": "对象",
        "channel": "渠道",
        "detail": "详情",
        "not_found": "未找到该事件或老人",
        "outcome_required": "请填写结果",
        "already_resolved": "该事件已结案",
        "viewer": "只读账号不能操作",
        "open": "未确认",
        "acknowledged": "已确认",
        "resolved": "已结案",
        "by": "确认人",
    },
    "en": {
        "incident": "Emergency",
        "drill": "drill",
        "timeline": "Timeline",
        "acknowledge": "I am on it (acknowledge)",
        "resolve": "Resolve with the handling record",
        "what_happened": "What happened",
        "actions_taken": "Actions taken",
        "outcome": "Outcome (required)",
        "export": "Export",
        "start_drill": "Start a drill",
        "drill_help": "Sends a test page marked as a drill to the elder's emergency contacts, through the same path as "
        "a real emergency, to find dead numbers.",
        "elder_code": "Elder code",
        "at": "At",
        "what": "What",
        "who": "Who",
        "channel": "Channel",
        "detail": "Detail",
        "not_found": "No such emergency or elder",
        "outcome_required": "The outcome is required",
        "already_resolved": "Already resolved",
        "viewer": "A read-only account cannot do this",
        "open": "open",
        "acknowledged": "acknowledged",
        "resolved": "resolved",
        "by": "acknowledged by",
    },
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/incidents/{incident_id:\\d+}", incident_page)
    app.router.add_post("/incidents/{incident_id:\\d+}/ack", incident_ack)
    app.router.add_post("/incidents/{incident_id:\\d+}/resolve", incident_resolve)
    app.router.add_get("/incidents/{incident_id:\\d+}/export.{fmt:(csv|json)}", incident_export)
    app.router.add_get("/drill", drill_page)
    app.router.add_post("/drill", drill_start)


def _labels(request: web.Request) -> dict[str, str]:
    return _LABELS.get(_deps(request).language, _LABELS["zh_CN"])


async def _visible(request: web.Request, session: AsyncSession, area: Area) -> tuple[Incident, Elder]:
    incident = await session.get(Incident, int(request.match_info["incident_id"]))
    elder = await session.get(Elder, incident.elder_id) if incident else None
    community = await session.get(Area, elder.community_id) if elder else None
    if incident is None or elder is None or community is None or not may_see(area, community):
        raise web.HTTPNotFound(text=_labels(request)["not_found"])
    return incident, elder


async def _render(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area, *, error: str = ""
) -> web.StreamResponse:
    incident, elder = await _visible(request, session, area)
    entries = await timeline.incident_timeline(session, incident_id=incident.id or 0)
    acknowledged_by = await incident_service.describe_actor(session, incident.acknowledged_by)
    context = _context(
        request,
        coordinator,
        area=area,
        incident=incident,
        elder=elder,
        entries=entries,
        acknowledged_by=acknowledged_by,
        L=_labels(request),
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
        labels = _labels(request)
        message = labels["already_resolved"] if was_resolved else labels["outcome_required"]
        return await _render(request, session, coordinator, area, error=message)
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
        body, kind = "\ufeff" + timeline.as_csv(entries), "text/csv"  # BOM: Excel reads the Chinese correctly
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
    context = _context(request, coordinator, area=area, L=_labels(request), error="")
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
    if elder is None or community is None or not may_see(area, community):
        context = _context(request, coordinator, area=area, L=_labels(request), error=_labels(request)["not_found"])
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
