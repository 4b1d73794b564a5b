"""Roster upload for admins (`/admin/roster`): upload an elders or volunteers file, read the same per-row problems
as `carevisit import … --dry-run` gives (and download them as a workbook), then confirm to import it — into the
admin's own area subtree only (`within`). The file waits server-side under a token (`roster_uploads`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import aiohttp_jinja2
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.dashboard import views
from carevisit.dashboard.auth import COOKIE
from carevisit.dashboard.roster_uploads import Upload, UploadStore
from carevisit.roster import messages
from carevisit.roster.importer import ImportResult, import_elders, import_volunteers
from carevisit.roster.problems import RosterFileError
from carevisit.roster.problems_file import problems_path, write_problems_file
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.models import Area, Coordinator

# Bigger than the application's 2 MiB: a district's roster. Larger files go through `carevisit import`.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
SHOWN_PROBLEMS = 200
KINDS = ("elders", "volunteers")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class RosterSettings:
    """What the importer needs from the settings (`CAREVISIT_DEFAULT_REGION`, `…_DEFAULT_AREA_CODE`)."""

    region: str = "CN"
    area_code: str | None = None


ROSTER_SETTINGS = web.AppKey("roster_settings", RosterSettings)
UPLOADS = web.AppKey("roster_uploads", UploadStore)


def add_routes(app: web.Application) -> None:
    store = UploadStore(app[views.DEPS].clock)
    app[UPLOADS] = store

    async def close_store(_app: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    app.router.add_get("/admin/roster", upload_page)
    app.router.add_post("/admin/roster", upload)
    app.router.add_get("/admin/roster/{token}", check_page)
    app.router.add_get("/admin/roster/{token}/problems.xlsx", problems_download)
    app.router.add_post("/admin/roster/{token}/confirm", confirm)


_t = views.words


def _render(request: web.Request, coordinator: Coordinator | None, *, status: int = 200, **values: Any) -> web.Response:
    language = messages.language_of(views._deps(request).language)
    defaults: dict[str, Any] = {"upload": None, "result": None, "error": "", "done": False, "kinds": KINDS}
    context = views._context(
        request, coordinator, **(defaults | values), m=_Words(language), max_mib=MAX_UPLOAD_BYTES // 2**20
    )
    return aiohttp_jinja2.render_template("roster_upload.html", request, context, status=status)


class _Words:
    """The importer's own wording of problems and notices (the CLI's), for the template."""

    def __init__(self, language: str) -> None:
        self.language = language

    def problem(self, found: Any) -> str:
        return messages.problem(self.language, found)

    def notice(self, text: str) -> str:
        return messages.notice(self.language, text)

    def kind(self, kind: str) -> str:
        return messages.text(self.language, kind)

    def text(self, key: str, **values: Any) -> str:
        return messages.text(self.language, key, **values)


@views.admin_only
async def upload_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    return _render(request, coordinator, area=area)


async def upload(request: web.Request) -> web.StreamResponse:
    """Reads the form with the roster's own size limit; one too large is refused before anything is stored."""
    deps = views._deps(request)
    if deps.signer.read(request.cookies.get(COOKIE), deps.clock.now()) is None:
        raise web.HTTPSeeOther("/login")  # before reading megabytes from someone not signed in
    t = _t(request)
    too_large = t("report.roster_too_large").format(mib=MAX_UPLOAD_BYTES // 2**20)
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        return web.Response(status=413, text=too_large)
    if request.content_type != "multipart/form-data":  # no file in it (and already read by the input check)
        return await _checked_upload(request)
    larger = request.clone(client_max_size=MAX_UPLOAD_BYTES)
    try:
        form = await larger.post()  # read once here (the views below get it from the request's cache)
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, text=too_large)
    try:
        return await _checked_upload(larger)
    finally:  # the upload is copied into the store by now, or refused: the spooled copy goes either way
        for value in form.values():
            if isinstance(value, web.FileField):
                value.file.close()


@views.admin_only
async def _checked_upload(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    t = _t(request)
    form = await request.post()
    kind = str(form.get("kind", ""))
    file = form.get("roster")
    if kind not in KINDS:
        return _render(request, coordinator, status=400, area=area, error=t("report.roster_choose_kind"))
    if not isinstance(file, web.FileField) or not file.filename:
        return _render(request, coordinator, status=400, area=area, error=t("report.roster_choose_file"))
    store = request.app[UPLOADS]
    saved = store.save(coordinator_id=coordinator.id or 0, kind=kind, name=_file_name(file.filename), source=file.file)
    try:
        saved.check = await _import(request, saved, area=area, dry_run=True)
    except RosterFileError as error:
        store.discard(saved.token)
        return _render(request, coordinator, status=400, area=area, error=_file_problem(request, error))
    raise web.HTTPSeeOther(f"/admin/roster/{saved.token}")


def _file_name(sent: str) -> str:
    """Browsers send a Chinese name as UTF-8; some clients percent-encode it (aiohttp, curl --form-string)."""
    return unquote(sent) if sent.isascii() else sent


async def _import(request: web.Request, upload: Upload, *, area: Area, dry_run: bool) -> ImportResult:
    """Check (or import) the file on a thread of its own, with its own event loop and database connection: reading
    and validating a big roster takes seconds of CPU, which would stall the bot, the webhooks and the escalation
    engine sharing this loop."""
    deps = views._deps(request)
    settings = request.app.get(ROSTER_SETTINGS, RosterSettings())
    bind = deps.sessions.kw["bind"]
    url = bind.url.render_as_string(hide_password=False)
    area_id = area.id

    async def work() -> ImportResult:
        engine = make_engine(url)
        try:
            async with make_session_factory(engine)() as own:
                within = await own.get(Area, area_id)
                assert within is not None, "the coordinator's own area"
                common: dict[str, Any] = {
                    "path": upload.path,
                    "clock": deps.clock,
                    "region": settings.region,
                    "actor": f"coordinator:{upload.coordinator_id}",
                    "dry_run": dry_run,
                    "within": within,
                }
                if upload.kind == "elders":
                    return await import_elders(own, zone=deps.zone, area_code=settings.area_code, **common)
                return await import_volunteers(own, **common)
        finally:
            await engine.dispose()

    return await asyncio.to_thread(asyncio.run, work())


def _file_problem(request: web.Request, error: RosterFileError) -> str:
    return messages.file_problem(messages.language_of(views._deps(request).language), error)


def _find(request: web.Request, coordinator: Coordinator) -> Upload:
    upload = request.app[UPLOADS].find(request.match_info["token"], coordinator_id=coordinator.id or 0)
    if upload is None or upload.check is None:
        raise web.HTTPNotFound(text=_t(request)("report.roster_gone"))
    return upload


@views.admin_only
async def check_page(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    upload = _find(request, coordinator)
    return _render(request, coordinator, area=area, upload=upload, result=upload.check, shown=SHOWN_PROBLEMS)


@views.admin_only
async def problems_download(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    upload = _find(request, coordinator)
    result: ImportResult = upload.check  # type: ignore[assignment]
    if result.ok:
        raise web.HTTPNotFound(text=_t(request)("report.roster_no_problems"))
    language = messages.language_of(views._deps(request).language)
    written = write_problems_file(upload.path, result.problems, language=language, elders=upload.kind == "elders")
    name = problems_path(upload.path, language).name
    return web.Response(
        body=written.read_bytes(),
        headers={
            "Content-Type": _XLSX,
            "Content-Disposition": f"attachment; filename=\"problems.xlsx\"; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "no-store",
        },
    )


@views.admin_only
async def confirm(
    request: web.Request, session: AsyncSession, coordinator: Coordinator, area: Area
) -> web.StreamResponse:
    upload = _find(request, coordinator)
    store = request.app[UPLOADS]
    try:
        result = await _import(request, upload, area=area, dry_run=False)
    except RosterFileError as error:  # nothing was written: the importer rolls back
        return _render(request, coordinator, status=400, area=area, error=_file_problem(request, error))
    if not result.ok:  # the register changed since the check: show the new problems, keep the file
        upload.check = result
        return _render(request, coordinator, status=400, area=area, upload=upload, result=result, shown=SHOWN_PROBLEMS)
    store.discard(upload.token)
    return _render(request, coordinator, area=area, result=result, done=True)
