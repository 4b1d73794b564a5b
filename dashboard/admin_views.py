"""The admin's page of coordinator accounts: list, add, reset a password, disable and enable, all within the
admin's own area subtree (an account elsewhere does not exist for them: 404). Everyone else gets 403."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import coordinators as accounts
from carevisit.care.phones import mask_phone
from carevisit.dashboard import views
from carevisit.dashboard.texts import translator
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Coordinator

PAGE = "/admin/coordinators"
ROLES = list(CoordinatorRole)


def add_routes(app: web.Application) -> None:
    app.router.add_get(PAGE, accounts_page)
    app.router.add_post(PAGE, add_account)
    app.router.add_post(PAGE + "/{coordinator_id:\\d+}/password", reset_password)
    app.router.add_post(PAGE + "/{coordinator_id:\\d+}/disable", disable_account)
    app.router.add_post(PAGE + "/{coordinator_id:\\d+}/enable", enable_account)


async def _render(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    *,
    error: str = "",
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    listing = await accounts.coordinators_in_subtree(session, area=area)
    choices = await accounts.areas_in_subtree(session, area=area)
    paths = await accounts.name_paths(session, [row.area for row in listing.rows] + choices)
    context = views._context(
        request,
        coordinator,
        area=area,
        listing=listing,
        paths=paths,
        choices=choices,
        roles=ROLES,
        mask=mask_phone,
        message=_outcome_message(request, listing),
        error=error,
        form=form or {},
    )
    return aiohttp_jinja2.render_template("admin_coordinators.html", request, context, status=status)


@views.admin_only
async def accounts_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _render(request, session, coordinator, area)


@views.admin_only
async def add_account(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = views._deps(request)
    form = {key: str(value) for key, value in (await request.post()).items() if key != "csrf"}
    try:
        role = _role(form.get("role", ""))
        password = _new_password(form)
        target = await accounts.find_area(session, text=form.get("area", ""), within=area)
        created = await accounts.create_coordinator(
            session,
            clock=deps.clock,
            actor=f"coordinator:{coordinator.id}",
            username=form.get("username", ""),
            role=role,
            area=target,
            password_hash=await request.app[views.SIGN_IN].hash_password(password),
            name=form.get("name", ""),
            phone=form.get("phone", ""),
        )
    except accounts.AccountError as error:
        form.pop("password", None), form.pop("password_again", None)
        return await _render(request, session, coordinator, area, error=_why(request, error), form=form, status=400)
    await session.commit()
    raise _done("created", created)


@views.admin_only
async def reset_password(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    deps = views._deps(request)
    target = await _account(request, session, area)
    form = {key: str(value) for key, value in (await request.post()).items()}
    try:
        password_hash = await request.app[views.SIGN_IN].hash_password(_new_password(form))
    except accounts.AccountError as error:
        return await _render(request, session, coordinator, area, error=_why(request, error), status=400)
    await accounts.set_password(
        session,
        clock=deps.clock,
        actor=f"coordinator:{coordinator.id}",
        coordinator=target,
        password_hash=password_hash,
    )
    await session.commit()
    raise _done("password_set", target)


@views.admin_only
async def disable_account(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _set_active(request, session, coordinator, area, active=False)


@views.admin_only
async def enable_account(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _set_active(request, session, coordinator, area, active=True)


async def _set_active(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area, *, active: bool
) -> web.StreamResponse:
    target = await _account(request, session, area)
    if target.id == coordinator.id:  # an admin locking themselves out would need the command line to come back
        error = _why(request, accounts.AccountError("self"))
        return await _render(request, session, coordinator, area, error=error, status=400)
    await accounts.set_active(
        session,
        clock=views._deps(request).clock,
        actor=f"coordinator:{coordinator.id}",
        coordinator=target,
        active=active,
    )
    await session.commit()
    raise _done("enabled" if active else "disabled", target)


async def _account(request: web.Request, session: AsyncSession, area: Area) -> Coordinator:
    found = await accounts.coordinator_in_subtree(
        session, area=area, coordinator_id=int(request.match_info["coordinator_id"])
    )
    if found is None:
        raise web.HTTPNotFound(text=translator(views._deps(request).language)("acct.not_found"))
    return found


def _role(text: str) -> CoordinatorRole:
    try:
        return CoordinatorRole(text)
    except ValueError:
        raise accounts.AccountError("role_invalid") from None


def _new_password(form: dict[str, Any]) -> str:
    password = str(form.get("password", ""))
    accounts.check_password(password)
    if password != str(form.get("password_again", "")):
        raise accounts.AccountError("password_mismatch")
    return password


def _why(request: web.Request, error: accounts.AccountError) -> str:
    return translator(views._deps(request).language)(f"acct.error.{error.reason}").format(**error.values)


# The outcome travels through the redirect as a word and an id: the text is the server's, and names only accounts
# on this admin's own list.
_OUTCOMES = ("created", "password_set", "disabled", "enabled")


def _done(outcome: str, target: Coordinator) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(PAGE + "?" + urlencode({"done": outcome, "account": target.id}))


def _outcome_message(request: web.Request, listing: accounts.AccountList) -> str:
    outcome, account = request.query.get("done", ""), request.query.get("account", "")
    who = next((row.coordinator.username for row in listing.rows if str(row.coordinator.id) == account), None)
    if outcome not in _OUTCOMES or who is None:
        return ""
    return translator(views._deps(request).language)(f"acct.{outcome}").format(username=who)
