"""A volunteer's own photos, shown back to them in the app (`/v/photos/<name>`): only what they uploaded.

The address carries the file's name, never a volunteer: the folder is the signed-in volunteer's own, so another's
photo cannot even be named. Anything not found is the app's ordinary 404 page; the service's security middleware
sends `Cache-Control: no-store` and `nosniff`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from carevisit.care.photos import APP_PREFIX, HEAD_BYTES, content_type, stored_file
from carevisit.volunteer_app.page_common import not_found, photo_store, visiting


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v/photos/{name}", own_photo)


async def own_photo(request: web.Request) -> web.StreamResponse:
    async with visiting(request) as (_session, visitor):
        ref = f"{APP_PREFIX}{visitor.id}/{request.match_info['name']}"
        path = stored_file(photo_store(request).root, ref)
        kind = await asyncio.to_thread(_kind_of, path) if path is not None else None
        if path is None or kind is None:
            return not_found(request, visitor)
    return web.FileResponse(path, headers={"Content-Type": kind, "Content-Disposition": "inline"})


def _kind_of(path: Path) -> str | None:
    with path.open("rb") as file:
        return content_type(file.read(HEAD_BYTES))
