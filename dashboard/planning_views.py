"""Coordinator pages for extra visits and reassignment: the same domain calls as `carevisit visits …`, scoped
to the coordinator's area subtree. Registered by `add_planning_routes(app)` after `add_dashboard`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp.web_request import FileField
from multidict import MultiDict, MultiDictProxy
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import may_see
from carevisit.care.areas import area_choices, in_subtree
from carevisit.care.clock import local_today, month_of
from carevisit.dashboard import guard, views
from carevisit.dashboard.planning_texts import planning_translator
from carevisit.dashboard.texts import translator
from carevisit.scheduler.extra_visits import ExtraVisitError, order_extra_visits, preview_extra_visits
from carevisit.scheduler.reassignment import count_needing_reassignment, reassign_open_visits
from carevisit.storage.enums import ElderClass, VisitMode
from carevisit.storage.models import Area, Coordinator, Elder

CLASSES = [member for member in ElderClass if member.name]
MODES = list(VisitMode)
MAX_HOURS = 24 * 31


def add_planning_routes(app: web.Application) -> None:
    app.router.add_get("/planning", planning_page)
    app.router.add_post("/planning/extra", extra)
    app.router.add_post("/planning/reassign", reassign)


@dataclass(frozen=True)
class ExtraForm:
    """An extra-visit order as the form gave it, checked: every value already known to exist and be in reach."""

    hours: int
    mode: VisitMode
    classes: ElderClass
    reason: str
    elder: Elder | None
    area: Area | None


class FormError(ValueError):
    """A field of the form is wrong; the message names the field and says why."""


async def _page(  # type: ignore[no-untyped-def]
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    *,
    message: str = "",
    error: str = "",
    confirm: dict[str, object] | None = None,
    status: int = 200,
):
    language = views._deps(request).language
    context = views._context(
        request,
        coordinator,
        area=area,
        p=planning_translator(language),
        classes=[(member.name.lower(), member) for member in CLASSES],  # type: ignore[union-attr]
        modes=MODES,
        choices=await area_choices(session, area=area),
        depth=area.path.count("/"),
        message=message or request.query.get("message", ""),
        error=error,
        confirm=confirm,
        entered=await request.post() if request.method == "POST" else MultiDict(),  # a refused form keeps its values
        can_order=guard.may_act(coordinator),
    )
    return aiohttp_jinja2.render_template("planning.html", request, context, status=status)


@views.signed_in
async def planning_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _page(request, session, coordinator, await views.chosen_area(request, session, area))


def _done(message: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther("/planning?" + urlencode({"message": message}))


async def _read_extra_form(request: web.Request, session: AsyncSession, area: Area) -> ExtraForm:
    """Check every field; a wrong one raises FormError naming it (nothing is ordered)."""
    t = translator(views._deps(request).language)
    p = planning_translator(views._deps(request).language)
    form = await request.post()
    try:
        hours = int(str(form.get("within_hours", "")).strip())
        if not 1 <= hours <= MAX_HOURS:
            raise ValueError
    except ValueError:
        raise FormError(t("show.form.hours").format(field=p("within_hours"), most=MAX_HOURS)) from None
    try:
        mode = VisitMode(str(form.get("mode", VisitMode.HOME)))
    except ValueError:
        raise FormError(t("show.form.choose").format(field=p("mode"))) from None
    classes = ElderClass(0)
    for name in form.getall("classes", []):
        member = ElderClass.__members__.get(str(name).upper())
        if member is None:
            raise FormError(t("show.form.choose").format(field=p("classes")))
        classes |= member
    reason = str(form.get("reason", "")).strip()
    if not reason:
        raise FormError(t("show.form.required").format(field=p("reason")))
    elder_code = str(form.get("elder", "")).strip()
    area_code = str(form.get("area", "")).strip()
    if not elder_code and not area_code:
        raise FormError(t("show.planning.need_target"))
    elder = None
    target_area = None
    if elder_code:
        elder = (
            await session.exec(
                select(Elder).where(
                    Elder.external_id == elder_code,
                    col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
                )
            )
        ).first()
        if elder is None:  # elsewhere or nowhere: the same answer
            raise FormError(t("show.form.no_elder").format(field=p("elder_id"), code=elder_code))
    else:
        target_area = (await session.exec(select(Area).where(Area.code == area_code))).first()
        if target_area is None or not may_see(area, target_area):
            raise FormError(t("show.form.no_area").format(field=t("show.planning.area")))
    return ExtraForm(hours, mode, classes, reason[:300], elder, target_area)


@views.signed_in
async def extra(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """One elder is ordered at once; an area-wide order is counted and shown first, and ordered only when the
    same form comes back with `confirm=yes`."""
    deps = views._deps(request)
    p = planning_translator(deps.language)
    try:
        order_form = await _read_extra_form(request, session, area)
    except FormError as error:
        return await _page(request, session, coordinator, area, error=str(error), status=400)
    elder_ids = [order_form.elder.id or 0] if order_form.elder else None
    classes = order_form.classes or None
    form = await request.post()
    if order_form.area is not None and form.get("confirm") != "yes":
        preview = await preview_extra_visits(session, reason=order_form.reason, area=order_form.area, classes=classes)
        confirm = {"preview": preview, "area": order_form.area, "order": order_form, "hidden": _hidden(form)}
        return await _page(request, session, coordinator, area, confirm=confirm)
    try:
        order = await order_extra_visits(
            session,
            clock=deps.clock,
            zone=deps.zone,
            deadline=deps.clock.now() + timedelta(hours=order_form.hours),
            reason=order_form.reason,
            actor=f"coordinator:{coordinator.id}",
            mode=order_form.mode,
            elder_ids=elder_ids,
            area=order_form.area,
            classes=classes,
        )
    except ExtraVisitError as error:
        return await _page(request, session, coordinator, area, error=p("bad_input", why=str(error)), status=400)
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


def _hidden(form: MultiDictProxy[str | bytes | FileField]) -> list[tuple[str, str]]:
    """The order's fields, to send back unchanged with the confirmation."""
    return [(name, str(value)) for name, value in form.items() if name not in ("csrf", "confirm")]


@views.signed_in
async def reassign(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """Reassignment can move every open visit of an area: count them and ask first, unless there is nothing to do."""
    deps = views._deps(request)
    p = planning_translator(deps.language)
    month = month_of(local_today(deps.clock, deps.zone))
    form = await request.post()
    if form.get("confirm") != "yes":
        count = await count_needing_reassignment(session, month=month, area=area)
        if count:
            return await _page(request, session, coordinator, area, confirm={"reassign": count})
    result = await reassign_open_visits(
        session, clock=deps.clock, month=month, area=area, actor=f"coordinator:{coordinator.id}"
    )
    await session.commit()
    raise _done(p("reassigned", n=result.reassigned, u=len(result.unassigned)))
