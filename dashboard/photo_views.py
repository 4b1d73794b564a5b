"""The photos of visits and problems, for the coordinators of the elder's area (viewers too: reading is their job,
and the dashboard shows them elders unmasked).

Photos are personal data: they are never static files. Each request is checked against the database (the visit
or problem must be of an elder in the coordinator's subtree), and everything else — another area, a Telegram
file id, a reference that would leave the photos folder, no file — is the same 404. The security middleware sends
`Cache-Control: no-store` and `nosniff` with every answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.photos import (
    HEAD_BYTES,
    content_type,
    is_app_photo,
    photo_refs,
    problem_photo,
    stored_file,
    visit_photo,
)
from carevisit.dashboard import views
from carevisit.dashboard.texts import translator
from carevisit.storage.models import Area, Coordinator

# The folder the volunteer app stores photos in (carevisit/web.py sets it from CAREVISIT_DATA_DIR); without it
# no photo is found.
PHOTO_DIR = web.AppKey("dashboard_photo_dir", Path)


def add_routes(app: web.Application, photo_dir: Path | None) -> None:
    if photo_dir is not None:
        app[PHOTO_DIR] = photo_dir
    app.router.add_get("/visits/{visit_id:\\d+}/photo", visit_photo_file)
    app.router.add_get("/problems/{problem_id:\\d+}/photos/{n:\\d{1,3}}", problem_photo_file)


def template_globals(env: Any) -> None:
    """`shows_photo(ref)`: whether the pages can show this photo (the app's) or only say it is in Telegram;
    `photo_refs(attachments)`: a problem's photos in order (the `n` of its photo route)."""
    env.globals["shows_photo"] = is_app_photo
    env.globals["photo_refs"] = photo_refs


def _coordinators_only(view: views.View) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A signed-in view whose address answers 404, not the sign-in page, to anyone not signed in: a photo's
    address tells a stranger (or a volunteer's phone) nothing, not even that signing in would show something."""
    signed_in = views.signed_in(view)

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await signed_in(request)
        except web.HTTPSeeOther:  # signed_in's way to the sign-in page (a GET has no other redirect)
            raise _not_found(request) from None

    return handler


def _not_found(request: web.Request) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=translator(request.app[views.DEPS].language)("photo.not_found"))


@_coordinators_only
async def visit_photo_file(
    request: web.Request, session: AsyncSession, _coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    ref = await visit_photo(session, area=area, visit_id=int(request.match_info["visit_id"]))
    return await photo_response(request, ref)


@_coordinators_only
async def problem_photo_file(
    request: web.Request, session: AsyncSession, _coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    problem_id, n = int(request.match_info["problem_id"]), int(request.match_info["n"])
    ref = await problem_photo(session, area=area, problem_id=problem_id, n=n)
    return await photo_response(request, ref)


async def photo_response(request: web.Request, ref: str | None) -> web.StreamResponse:
    """The stored file of an app reference, typed by its first bytes; 404 for anything else."""
    root = request.app.get(PHOTO_DIR)
    path = stored_file(root, ref) if root is not None and ref else None
    kind = await asyncio.to_thread(_kind_of, path) if path is not None else None
    if path is None or kind is None:
        raise _not_found(request)
    return web.FileResponse(path, headers={"Content-Type": kind, "Content-Disposition": "inline"})


def _kind_of(path: Path) -> str | None:
    with path.open("rb") as file:
        return content_type(file.read(HEAD_BYTES))
