"""Coordinator pages. Each view checks the signed-in coordinator, scopes every query to their area subtree,
calls one domain function and renders a template."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import coordinator_area, may_see
from carevisit.care.area_rates import area_rates
from carevisit.care.areas import area_chain
from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.coordinators import end_sessions
from carevisit.care.incident_lists import count_incidents, incident_list, month_span
from carevisit.care.month_close import final_from, in_grace, oldest_open_month
from carevisit.care.referrals import (
    ProblemClosed,
    ProblemNotFound,
    count_open_problems,
    open_problems,
    update_problem,
)
from carevisit.care.visit_queries import count_overdue, count_unassigned, overdue_visits, unassigned_visits
from carevisit.dashboard import guard
from carevisit.dashboard.accounts import SignInDesk
from carevisit.dashboard.auth import COOKIE, LIFETIME, LOGIN_COOKIE, SessionClaim, SessionSigner, new_login_cookie
from carevisit.dashboard.texts import translator
from carevisit.dashboard.throttle import client_address
from carevisit.scheduler.reminder_texts import day_text
from carevisit.storage.enums import IncidentStatus, ProblemStatus
from carevisit.storage.models import Area, Coordinator


@dataclass(frozen=True)
class DashboardDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    zone: ZoneInfo
    signer: SessionSigner
    language: str
    secure_cookies: bool


DEPS = web.AppKey("dashboard_deps", DashboardDeps)
SIGN_IN = web.AppKey("dashboard_sign_in", SignInDesk)
LIST_LIMIT = 200  # rows a list shows; the rest are counted ("N more — narrow the area")
View = Callable[[web.Request, AsyncSession, Coordinator, Area], Awaitable[web.StreamResponse]]


def _deps(request: web.Request) -> DashboardDeps:
    return request.app[DEPS]


def words(request: web.Request):  # type: ignore[no-untyped-def]
    """The page's word lookup, in the configured language."""
    return translator(_deps(request).language)


def _context(request: web.Request, coordinator: Coordinator | None = None, **values: Any) -> dict[str, Any]:
    deps = _deps(request)
    cookie = request.cookies.get(COOKIE, "")
    return {
        "t": translator(deps.language),
        "coordinator": coordinator,
        "csrf": deps.signer.csrf_token(cookie) if cookie else "",
        "zone": deps.zone,
        # Whether to show action buttons: the guard refuses a viewer's posts anyway, so none are offered.
        "can_act": coordinator is not None and guard.may_act(coordinator),
        **values,
    }


def signed_in(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Load the coordinator from the cookie (redirect to /login if none, or if the session was ended), open a
    session; on POST pass the one guard (same origin, CSRF token, not a viewer) before the view runs."""

    async def handler(request: web.Request) -> web.StreamResponse:
        deps = _deps(request)
        cookie = request.cookies.get(COOKIE)
        if request.method == "POST" and guard.cross_site(request):
            raise web.HTTPForbidden(text=translator(deps.language)("acct.cross_site"))
        async with deps.sessions() as session:
            coordinator = await _session_coordinator(session, deps.signer.read(cookie, deps.clock.now()))
            if coordinator is None:
                raise web.HTTPSeeOther("/login")
            if request.method == "POST":
                form = await request.post()
                if not deps.signer.csrf_ok(cookie, form.get("csrf")):
                    raise web.HTTPForbidden(text=translator(deps.language)("bad_request"))
                require_actor(request, coordinator)
            area = await coordinator_area(session, coordinator=coordinator)
            return await view(request, session, coordinator, area)

    return handler


async def _session_coordinator(session: AsyncSession, claim: SessionClaim | None) -> Coordinator | None:
    """The cookie's coordinator while the account is active and the session has not been ended."""
    coordinator = await session.get(Coordinator, claim.coordinator_id) if claim else None
    if coordinator is None or claim is None or not coordinator.active or coordinator.session_version != claim.version:
        return None
    return coordinator


def admin_only(view: View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A signed-in view for admins only (pages and actions alike): everyone else gets 403."""

    async def checked(
        request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
    ) -> web.StreamResponse:
        require_admin(request, coordinator)
        return await view(request, session, coordinator, area)

    return signed_in(checked)


def _login_form(request: web.Request, *, error: str | None, status: int = 200) -> web.StreamResponse:
    """The sign-in page with its own CSRF token, bound to a random pre-session cookie set here if absent."""
    deps = _deps(request)
    login_cookie = request.cookies.get(LOGIN_COOKIE) or new_login_cookie()
    context = _context(request, error=error, login_csrf=deps.signer.csrf_token("login:" + login_cookie))
    response = aiohttp_jinja2.render_template("login.html", request, context, status=status)
    response.set_cookie(
        LOGIN_COOKIE, login_cookie, httponly=True, samesite="Strict", secure=deps.secure_cookies, path="/login"
    )
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_form(request, error=None)


async def login(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    t = translator(deps.language)
    form = await request.post()
    login_cookie = request.cookies.get(LOGIN_COOKIE)
    if guard.cross_site(request) or not deps.signer.csrf_ok(login_cookie and "login:" + login_cookie, form.get("csrf")):
        return _login_form(request, error=t("acct.login_expired"), status=403)
    async with deps.sessions() as session:
        outcome = await request.app[SIGN_IN].sign_in(
            session,
            clock=deps.clock,
            username=str(form.get("username", "")).strip(),
            password=str(form.get("password", "")),
            address=client_address(request.remote, request.headers.get("X-Forwarded-For")),
        )
    coordinator = outcome.coordinator
    if coordinator is None or coordinator.id is None:
        if outcome.locked_until is not None:
            until = outcome.locked_until.astimezone(deps.zone).strftime("%H:%M:%S")
            return _login_form(request, error=t("acct.throttled").format(until=until), status=429)
        return _login_form(request, error=t("login_failed"), status=401)
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        COOKIE,
        deps.signer.issue(coordinator.id, coordinator.session_version, deps.clock.now()),
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="Strict",
        secure=deps.secure_cookies,
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends every session of the account (the version in their cookies no longer matches). Needs the session's
    CSRF token, so that another site cannot sign a coordinator out; without a live session there is nothing to end."""
    deps = _deps(request)
    cookie = request.cookies.get(COOKIE)
    claim = deps.signer.read(cookie, deps.clock.now())
    if claim is not None:
        form = await request.post()
        if guard.cross_site(request) or not deps.signer.csrf_ok(cookie, form.get("csrf")):
            raise web.HTTPForbidden(text=translator(deps.language)("bad_request"))
        async with deps.sessions() as session:
            await end_sessions(session, coordinator_id=claim.coordinator_id)
            await session.commit()
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE)
    raise response


@signed_in
async def overview(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = _deps(request)
    today = local_today(deps.clock, deps.zone)
    month = chosen_month(request, today)
    own, area = area, await chosen_area(request, session, area)
    rates = await area_rates(session, month=month, area=area)
    counts = {
        "not_visited": rates.total.eligible - rates.total.visited,
        "overdue": await count_overdue(session, area=area, today=today, now=deps.clock.now()),
        "unassigned": await count_unassigned(session, area=area, month=month),
        "problems": await count_open_problems(session, area=area),
        "incidents": await count_incidents(session, area=area, statuses=ACTIVE_INCIDENTS),
    }
    context = _context(
        request,
        coordinator,
        area=area,
        month=month,
        total=rates.total,
        rows=rates.children,
        counts=counts,
        late=_late(deps, today),
        crumbs=await area_chain(session, area=area, top=own),
        crumb_path="/",
    )
    return aiohttp_jinja2.render_template("overview.html", request, context)


def _late(deps: DashboardDeps, today: date) -> dict[str, str] | None:
    """On the 1st: last month still takes late confirmations, so its figures can change until the day is over."""
    month = oldest_open_month(today)
    if not in_grace(month, today=today):
        return None
    return {"month": month, "final": day_text(deps.language, final_from(month))}


async def list_scope(
    request: web.Request, session: AsyncSession, own: Area, path: str
) -> tuple[Area, str, dict[str, Any]]:
    """The area and month a list shows (from the query), and the breadcrumbs back up to the coordinator's own area."""
    today = local_today(_deps(request).clock, _deps(request).zone)
    month = chosen_month(request, today)
    area = await chosen_area(request, session, own)
    crumbs = await area_chain(session, area=area, top=own)
    return area, month, {"area": area, "month": month, "crumbs": crumbs, "crumb_path": path}


@signed_in
async def overdue(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = _deps(request)
    area, _month, scope = await list_scope(request, session, area, "/overdue")
    today, now = local_today(deps.clock, deps.zone), deps.clock.now()
    visits = await overdue_visits(session, area=area, today=today, now=now, limit=LIST_LIMIT)
    total = len(visits) if len(visits) < LIST_LIMIT else await count_overdue(session, area=area, today=today, now=now)
    context = _context(request, coordinator, visits=visits, more=total - len(visits), heading="overdue", **scope)
    return aiohttp_jinja2.render_template("visits.html", request, context)


@signed_in
async def unassigned(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    area, month, scope = await list_scope(request, session, area, "/unassigned")
    visits = await unassigned_visits(session, area=area, month=month, limit=LIST_LIMIT)
    total = len(visits) if len(visits) < LIST_LIMIT else await count_unassigned(session, area=area, month=month)
    # Each row opens the page that gives the visit to a named volunteer (and says so after, on this list).
    from carevisit.dashboard.elder_views import outcome_message  # the elder pages import this module

    context = _context(
        request,
        coordinator,
        visits=visits,
        more=total - len(visits),
        heading="unassigned",
        message=await outcome_message(request, session, area),
        **scope,
    )
    return aiohttp_jinja2.render_template("visits.html", request, context)


@signed_in
async def problems(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    done = _PROBLEM_DONE.get(request.query.get("done", ""))
    message = translator(_deps(request).language)(done) if done else ""
    return await _problems_page(request, session, coordinator, area, message=message)


async def _problems_page(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    *,
    message: str = "",
    error: str = "",
) -> web.StreamResponse:
    """The referral queue of the area in view; with an error, again after a refused change (nothing changed)."""
    area, _month, scope = await list_scope(request, session, area, "/problems")
    rows = await open_problems(session, area=area, limit=LIST_LIMIT)
    total = len(rows) if len(rows) < LIST_LIMIT else await count_open_problems(session, area=area)
    context = _context(
        request, coordinator, problems=rows, more=total - len(rows), message=message, error=error, **scope
    )
    return aiohttp_jinja2.render_template("problems.html", request, context, status=400 if error else 200)


@signed_in
async def problem_update(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = _deps(request)
    t = translator(deps.language)
    form = await request.post()
    shown, _month, _scope = await list_scope(request, session, area, "/problems")  # checked before anything changes
    try:
        problem_id = int(request.match_info["problem_id"])
        status = ProblemStatus(str(form.get("status", "")))
    except ValueError:
        raise web.HTTPBadRequest(text=t("bad_request")) from None
    try:
        await update_problem(
            session,
            clock=deps.clock,
            area=area,
            problem_id=problem_id,
            actor=f"coordinator:{coordinator.id}",
            status=status,
            referred_to=str(form.get("referred_to", "")) or None,
            resolution=str(form.get("resolution", "")) or None,
        )
    except ProblemNotFound:
        raise web.HTTPNotFound(text=t("problem_not_found")) from None
    except (ProblemClosed, ValueError) as error:
        message = t("problem_closed") if isinstance(error, ProblemClosed) else t("resolution_required")
        return await _problems_page(request, session, coordinator, area, error=message)
    await session.commit()
    raise web.HTTPSeeOther("/problems?" + urlencode({"area": shown.code, "done": status.value}))


_PROBLEM_DONE = {"referred": "people.list.problem_referred", "closed": "people.list.problem_closed"}


ACTIVE_INCIDENTS = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)
INCIDENT_TABS = {"": ACTIVE_INCIDENTS, **{status.value: (status,) for status in IncidentStatus}}


@signed_in
async def incidents(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """`?status=` picks a tab (open and acknowledged by default); resolved ones are listed by the month they were
    resolved in (`?month=`, this month by default)."""
    tab = request.query.get("status", "")
    if tab not in INCIDENT_TABS:
        raise web.HTTPBadRequest(text=translator(_deps(request).language)("bad_request"))
    area, month, scope = await list_scope(request, session, area, "/incidents")
    resolved_in = month_span(month, _deps(request).zone) if tab == IncidentStatus.RESOLVED else None
    found = await incident_list(session, area=area, statuses=INCIDENT_TABS[tab], resolved_in=resolved_in)
    context = _context(request, coordinator, incidents=found, tab=tab, **scope)
    return aiohttp_jinja2.render_template("incidents.html", request, context)


def chosen_month(request: web.Request, today: date) -> str:
    """`?month=YYYY-MM` picks a month (the current one by default); anything else is a bad request."""
    month = request.query.get("month") or month_of(today)
    if not _is_month(month):
        raise web.HTTPBadRequest(text=translator(_deps(request).language)("bad_request"))
    return month


async def chosen_area(request: web.Request, session: AsyncSession, own: Area) -> Area:
    """`?area=CODE` drills down into a part of the coordinator's subtree; anything outside it is not found."""
    code = request.query.get("area")
    if not code or code == own.code:
        return own
    chosen = (await session.exec(select(Area).where(Area.code == code))).first()
    if chosen is None or not may_see(own, chosen):
        raise web.HTTPNotFound(text=translator(_deps(request).language)("forbidden"))
    return chosen


def _is_month(text: str) -> bool:
    """YYYY-MM of a year this programme can have (dates are computed from it: year 0 or 9999 would overflow)."""
    year, _, month = text.partition("-")
    return (
        len(text) == 7
        and year.isascii()
        and year.isdigit()
        and month.isascii()
        and month.isdigit()
        and 1900 <= int(year) <= 2999
        and 1 <= int(month) <= 12
    )


def require_actor(request: web.Request, coordinator: Coordinator) -> None:
    """Viewers see everything in their area and change nothing: every action passes through here (`signed_in`
    calls it for every POST)."""
    if not guard.may_act(coordinator):
        raise web.HTTPForbidden(text=translator(_deps(request).language)("viewer_cannot_act"))


def require_admin(request: web.Request, coordinator: Coordinator) -> None:
    """Accounts and rosters are for admins only."""
    if not guard.is_admin(coordinator):
        raise web.HTTPForbidden(text=translator(_deps(request).language)("acct.admin_only"))
