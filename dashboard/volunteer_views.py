"""Coordinator page for the volunteers of their area subtree: who serves where, this month's load, whether their chat
account is linked; finding one by name or roster id (`?q=`); invite to the bot, a one-time sign-in link to the
volunteer app (shown as a QR code), signing their app devices out, deactivate (their open visits are reassigned) and
reactivate. Every action answers with a redirect (POST-redirect-GET): a freshly issued link waits for the next page
in a one-time cookie (`shown_once`), never in the address.

A volunteer who serves no community in the coordinator's subtree does not exist for them (404). Viewers only read.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import local_today, month_of
from carevisit.care.invitations import DEFAULT_VALIDITY, create_invitation
from carevisit.care.volunteer_roster import VolunteerRow, reactivate_volunteer, volunteer_in_area, volunteers_in_area
from carevisit.care.volunteer_sign_in import LINK_VALIDITY, devices_signed_in, issue_link_token, revoke_devices
from carevisit.dashboard import shown_once
from carevisit.dashboard.link_reach import host_of, phone_reach
from carevisit.dashboard.qr import qr_svg
from carevisit.dashboard.texts import translator
from carevisit.dashboard.views import _context, _deps, signed_in
from carevisit.dashboard.volunteer_search import matching, search_text
from carevisit.scheduler.reassignment import deactivate_volunteer
from carevisit.storage.models import Area, Coordinator, Volunteer

log = logging.getLogger(__name__)


class BotUsername(Protocol):
    """The bot's @username (from a setting or the Bot API's getMe), or None when it is not known."""

    async def __call__(self) -> str | None: ...


# Set by the composition root when a bot runs; without it the page shows the `/start <token>` command to paste.
BOT_USERNAME = web.AppKey("bot_username", BotUsername)
# PUBLIC_URL (no trailing slash), set by the composition root when configured; else links use the request's host.
PUBLIC_URL = web.AppKey("public_url", str)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/volunteers", volunteers_page)
    app.router.add_post("/volunteers/{volunteer_id:\\d+}/invite", invite)
    app.router.add_post("/volunteers/{volunteer_id:\\d+}/app-link", app_link)
    app.router.add_post("/volunteers/{volunteer_id:\\d+}/app-revoke", app_revoke)
    app.router.add_post("/volunteers/{volunteer_id:\\d+}/deactivate", deactivate)
    app.router.add_post("/volunteers/{volunteer_id:\\d+}/reactivate", reactivate)


def _this_month(request: web.Request) -> str:
    deps = _deps(request)
    return month_of(local_today(deps.clock, deps.zone))


async def _render(
    request: web.Request,
    session: AsyncSession,
    coordinator: Coordinator,
    area: Area,
    *,
    error: str = "",
    status: int = 200,
) -> web.StreamResponse:
    """The list (narrowed by `?q=`), an action's outcome, and a link issued by the POST before, shown once."""
    deps = _deps(request)
    everyone = await volunteers_in_area(session, area=area, month=_this_month(request))
    query = search_text(request.query.get("q"))
    rows = matching(everyone, query)
    issued = shown_once.take(request, signer=deps.signer, now=deps.clock.now())
    theirs = next((row for row in everyone if issued and row.id == issued.volunteer_id and row.active), None)
    context = _context(
        request,
        coordinator,
        area=area,
        rows=rows,
        total=len(everyone),
        q=query,
        app_devices=await devices_signed_in(session, volunteer_ids=[row.id for row in rows]),
        message=_outcome_message(request, everyone),
        error=error,
        invitation=await _invitation(request, issued, theirs) if issued and issued.kind == "invite" else None,
        app_link=_app_link(request, issued, theirs) if issued and issued.kind == "app_link" else None,
    )
    response = aiohttp_jinja2.render_template("volunteers.html", request, context, status=status)
    shown_once.forget(response, request)  # shown now, or stale: a reload shows the page without it
    return response


def _until(request: web.Request, moment: datetime) -> str:
    return moment.astimezone(_deps(request).zone).strftime("%Y-%m-%d %H:%M")


async def _invitation(
    request: web.Request, issued: shown_once.Issued, volunteer: VolunteerRow | None
) -> dict[str, str] | None:
    if volunteer is None:
        return None
    t = translator(_deps(request).language)
    username = await _bot_username(request)
    who, until = volunteer.name, _until(request, issued.until)
    if username:
        return {
            "text": t("invite_link").format(who=who, until=until),
            "value": f"https://t.me/{username}?start={issued.token}",
        }
    return {"text": t("invite_command").format(who=who, until=until), "value": f"/start {issued.token}"}


def _app_link(
    request: web.Request, issued: shown_once.Issued, volunteer: VolunteerRow | None
) -> dict[str, object] | None:
    """The volunteer app's sign-in link as a QR code, named for the person; and a warning when the link's address
    is one no phone (or only a phone on this network) can open."""
    if volunteer is None:
        return None
    t = translator(_deps(request).language)
    base = request.app[PUBLIC_URL] if PUBLIC_URL in request.app else str(request.url.origin())
    url = f"{base}/v/in/{issued.token}"
    reach = phone_reach(url)
    return {
        "heading": t("app_link.heading").format(name=volunteer.name),
        "roster_id": t("app_link.roster_id").format(id=volunteer.external_id),
        "text": t("app_link.how").format(until=_until(request, issued.until)),
        "url": url,
        "qr": qr_svg(url, title=t("app_link.qr")),
        "reach": t(f"app_link.{reach}").format(host=host_of(url)) if reach else "",
    }


def _shown_next(request: web.Request, issued: shown_once.Issued, anchor: str, form_query: str) -> web.HTTPSeeOther:
    """The redirect after issuing a link: the link rides in the session's one-time cookie, not in the address."""
    deps = _deps(request)
    query = search_text(form_query)
    response = web.HTTPSeeOther("/volunteers" + (("?" + urlencode({"q": query})) if query else "") + anchor)
    shown_once.keep(
        response, request, signer=deps.signer, issued=issued, now=deps.clock.now(), secure=deps.secure_cookies
    )
    return response


async def _acting_on(request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area) -> Volunteer:
    """The volunteer of the URL, if this coordinator may act on them (viewers never get here: the guard of every
    POST refuses them), else 404."""
    t = translator(_deps(request).language)
    volunteer = await volunteer_in_area(session, area=area, volunteer_id=int(request.match_info["volunteer_id"]))
    if volunteer is None:
        raise web.HTTPNotFound(text=t("volunteer_not_found"))
    return volunteer


# What an action did, carried through the redirect as numbers only: the text is the server's, so a crafted link
# cannot put words of its own on the coordinator's page.
_OUTCOMES = ("deactivated", "reactivated", "already_inactive", "already_active", "app_revoked")


def _done(outcome: str, volunteer_id: int, *, n: int = 0, u: int = 0, q: str = "") -> web.HTTPSeeOther:
    query: dict[str, object] = {"done": outcome, "volunteer": volunteer_id, "n": n, "u": u}
    if search_text(q):  # back to the search the coordinator acted from
        query["q"] = search_text(q)
    return web.HTTPSeeOther("/volunteers?" + urlencode(query))


async def _search_of(request: web.Request) -> str:
    return str((await request.post()).get("q", ""))


def _outcome_message(request: web.Request, rows: list[VolunteerRow]) -> str:
    outcome, query = request.query.get("done", ""), request.query
    try:
        volunteer_id, n, u = (int(query.get(name, "")) for name in ("volunteer", "n", "u"))
    except ValueError:
        return ""
    # The person first, their roster id beside it for telling two of the same name apart.
    who = next((f"{row.name}（{row.external_id}）" for row in rows if row.id == volunteer_id), None)
    if outcome not in _OUTCOMES or who is None:  # only volunteers on this coordinator's list
        return ""
    return translator(_deps(request).language)(outcome).format(who=who, n=n, u=u)


@signed_in
async def volunteers_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return await _render(request, session, coordinator, area)


# What a coordinator may hand a volunteer, each shown once after a redirect: (how it is issued, how long it is good
# for, the page's section that shows it).
_ISSUED = {
    "invite": (create_invitation, DEFAULT_VALIDITY, "#invitation"),  # the bot
    "app_link": (issue_link_token, LINK_VALIDITY, "#app-link"),  # the volunteer app
}


async def _issue(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area, kind: str
) -> web.StreamResponse:
    """A one-time link for a volunteer of this area, shown once after the redirect (POST-redirect-GET)."""
    volunteer = await _acting_on(request, session, coordinator, area)
    deps = _deps(request)
    if not volunteer.active or volunteer.id is None:
        error = translator(deps.language)("inactive_cannot_invite")
        return await _render(request, session, coordinator, area, error=error, status=409)
    issue, validity, anchor = _ISSUED[kind]
    token = await issue(  # records the audit entry (ids only)
        session, clock=deps.clock, created_by=f"coordinator:{coordinator.id}", volunteer_id=volunteer.id
    )
    await session.commit()
    issued = shown_once.Issued(kind, volunteer.id, token, deps.clock.now() + validity)
    raise _shown_next(request, issued, anchor, await _search_of(request))


@signed_in
async def invite(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """A one-time link that connects the volunteer's Telegram to the bot."""
    return await _issue(request, session, coordinator, area, "invite")


@signed_in
async def app_link(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """A one-time sign-in link to the volunteer app, shown once (after the redirect) as a QR code and as text."""
    return await _issue(request, session, coordinator, area, "app_link")


@signed_in
async def app_revoke(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    """Sign every phone of the volunteer out of the app (a lost phone, a volunteer who left)."""
    volunteer = await _acting_on(request, session, coordinator, area)
    volunteer_id = volunteer.id or 0
    count = await revoke_devices(
        session, clock=_deps(request).clock, volunteer_id=volunteer_id, by=f"coordinator:{coordinator.id}"
    )
    await session.commit()
    raise _done("app_revoked", volunteer_id, n=count, q=await _search_of(request))


async def _bot_username(request: web.Request) -> str | None:
    source = request.app.get(BOT_USERNAME)
    if source is None:
        return None
    try:
        async with asyncio.timeout(5):  # a slow Telegram must not hold the coordinator's page
            return await source()
    except Exception:  # Telegram unreachable: the invitation still works, pasted as a command
        log.warning("could not learn the bot's username; showing the /start command instead", exc_info=True)
        return None


@signed_in
async def deactivate(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    volunteer = await _acting_on(request, session, coordinator, area)
    volunteer_id = volunteer.id or 0
    if not volunteer.active:
        raise _done("already_inactive", volunteer_id, q=await _search_of(request))
    result = await deactivate_volunteer(
        session,
        clock=_deps(request).clock,
        volunteer_id=volunteer_id,
        month=_this_month(request),
        actor=f"coordinator:{coordinator.id}",
        only_theirs=True,
    )
    await session.commit()
    raise _done("deactivated", volunteer_id, n=result.reassigned, u=len(result.unassigned), q=await _search_of(request))


@signed_in
async def reactivate(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    volunteer = await _acting_on(request, session, coordinator, area)
    volunteer_id = volunteer.id or 0
    changed = await reactivate_volunteer(
        session, clock=_deps(request).clock, volunteer=volunteer, actor=f"coordinator:{coordinator.id}"
    )
    await session.commit()
    raise _done("reactivated" if changed else "already_active", volunteer_id, q=await _search_of(request))
