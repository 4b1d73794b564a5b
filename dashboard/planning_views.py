"""Coordinator pages for extra visits and reassignment: the same domain calls as `carevisit visits …`, scoped
to the coordinator's area subtree. Registered by `add_planning_routes(app)` after `add_dashboard`."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import may_see
from carevisit.care.areas import in_subtree
from carevisit.care.clock import local_today, month_of
from carevisit.dashboard import views
from carevisit.dashboard.planning_texts import planning_translator
from carevisit.scheduler.extra_visits import ExtraVisitError, order_extra_visits
from carevisit.scheduler.reassignment import reassign_open_visits
from carevisit.storage.enums import CoordinatorRole, ElderClass, VisitMode
from carevisit.storage.models import Area, Coordinator, Elder

CLASSES = [member for member in ElderClass if member.name]
MODES = list(VisitMode)


def add_planning_routes(app: web.Application) -> None:
    app.router.add_get("/planning", planning_page)
    app.router.add_post("/planning/extra", extra)
    app.router.add_post("/planning/reassign", reassign)


def _page(request: web.Request, coordinator: Coordinator, area: Area, *, message: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    language = views._deps(request).language
    context = views._context(
        request,
        coordinator,
        area=area,
        p=planning_translator(language),
        classes=[(member.name.lower(), member) for member in CLASSES],  # type: ignore[union-attr]
        modes=MODES,
        message=message or request.query.get("message", ""),
        can_order=coordinator.role != CoordinatorRole.VIEWER,
    )
    return aiohttp_jinja2.render_template("planning.html", request, context, status=status)


@views.signed_in
async def planning_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return _page(request, coordinator, area)


def _done(message: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther("/planning?" + urlencode({"message": message}))


@views.signed_in
async def extra(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = views._deps(request)
    p = planning_translator(deps.language)
    form = await request.post()
    try:
        hours = int(str(form.get("within_hours", "")).strip())
        if not 1 <= hours <= 24 * 31:
            raise ValueError
    except ValueError:
        return _page(request, coordinator, area, message=p("bad_input", why=p("within_hours")), status=400)
    try:
        mode = VisitMode(str(form.get("mode", VisitMode.HOME)))
    except ValueError:
        raise web.HTTPBadRequest() from None
    classes = ElderClass(0)
    for name in form.getall("classes", []):
        member = ElderClass.__members__.get(str(name).upper())
        if member is None:
            raise web.HTTPBadRequest()
        classes |= member
    elder_code = str(form.get("elder", "")).strip()
    area_code = str(form.get("area", "")).strip()
    elder_ids = None
    target_area = None
    if elder_code:
        elder_id = (
            await session.exec(
                select(Elder.id).where(
                    Elder.external_id == elder_code,
                    col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
                )
            )
        ).first()
        if elder_id is None:  # elsewhere or nowhere: the same answer
            return _page(request, coordinator, area, message=p("bad_input", why=p("elder_id")), status=400)
        elder_ids = [elder_id]
    elif area_code:
        target_area = (await session.exec(select(Area).where(Area.code == area_code))).first()
        if target_area is None or not may_see(area, target_area):
            return _page(request, coordinator, area, message=p("bad_input", why=p("or_area")), status=400)
    else:
        target_area = area
    try:
        order = await order_extra_visits(
            session,
            clock=deps.clock,
            zone=deps.zone,
            deadline=deps.clock.now() + timedelta(hours=hours),
            reason=str(form.get("reason", "")),
            actor=f"coordinator:{coordinator.id}",
            mode=mode,
            elder_ids=elder_ids,
            area=target_area,
            classes=classes or None,
        )
    except ExtraVisitError as error:
        return _page(request, coordinator, area, message=p("bad_input", why=str(error)), status=400)
    await session.commit()
    raise _done(
        p(
            "ordered",
            n=len(order.visits),
            u=order.unassigned,
            s=order.skipped_not_eligible,
            a=order.skipped_already_ordered,
        )
    )


@views.signed_in
async def reassign(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = views._deps(request)
    p = planning_translator(deps.language)
    month = month_of(local_today(deps.clock, deps.zone))
    result = await reassign_open_visits(
        session, clock=deps.clock, month=month, area=area, actor=f"coordinator:{coordinator.id}"
    )
    await session.commit()
    raise _done(p("reassigned", n=result.reassigned, u=len(result.unassigned)))
