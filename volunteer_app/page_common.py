"""What every visit, problem and emergency page of the volunteer app shares: the signed-in volunteer with a database
session, rendering with the page's words and form token, the answers for refusals, and reading a posted form that
may carry a photo.

Refusals change nothing and look the same whether a row exists or is someone else's (404), so a crafted id learns
nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import phonenumbers
from aiohttp import BodyPartReader, web
from aiohttp.web_request import FileField
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Volunteer
from carevisit.volunteer_app import guard, pages, visit_texts
from carevisit.volunteer_app.deps import DEPS, AppDeps
from carevisit.volunteer_app.photos import MAX_BYTES, PhotoRefused, PhotoStore, read_limited

# SQLite has one writer for the whole database: this process's writes take turns here, first come first served,
# rather than in SQLite's busy wait, whose growing back-off is what a confirm's p99 is made of under load (the
# escalation loops take turns the same way, escalation.context.Escalation.writing).
_TURNS: web.AppKey[asyncio.Lock] = web.AppKey("volunteer_app_write_turns", asyncio.Lock)

# Set by the composition root: `<CAREVISIT_DATA_DIR>/photos`, the folder the dashboard shows them from.
PHOTOS: web.AppKey[PhotoStore] = web.AppKey("volunteer_app_photos", PhotoStore)
_TEXT_LIMIT = 4000  # characters of one text field: a note, a description


@dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in volunteer of a request, their words and the app's dependencies."""

    volunteer: Volunteer
    language: str
    deps: AppDeps

    @property
    def id(self) -> int:
        assert self.volunteer.id is not None
        return self.volunteer.id

    def words(self, catalogue: dict[str, dict[str, str]] = visit_texts.TEXTS) -> visit_texts.Words:
        return visit_texts.translator(catalogue, self.language)


@asynccontextmanager
async def visiting(request: web.Request) -> AsyncIterator[tuple[AsyncSession, Visitor]]:
    """A database session and the volunteer of the request's device, checked in the database (guard.signed_in
    redirects anyone else to the signed-out page)."""
    deps = request.app[DEPS]
    async with deps.sessions() as session:
        volunteer = await guard.signed_in(request, session)
        yield session, Visitor(volunteer, visit_texts.language_of(volunteer.language, deps.language), deps)


def add_write_turns(app: web.Application) -> None:
    app[_TURNS] = asyncio.Lock()


@asynccontextmanager
async def write_turn(request: web.Request, session: AsyncSession) -> AsyncIterator[None]:
    """Around a view's write and its commit: one at a time on SQLite, at once on PostgreSQL (it locks rows)."""
    if session.bind is None or session.bind.dialect.name != "sqlite":
        yield
        return
    async with request.app[_TURNS]:
        yield


def render(request: web.Request, template: str, visitor: Visitor, status: int = 200, **values: Any) -> web.Response:
    """A page with its words (`w`) besides what pages.render gives every page (`t`, `lang`, `csrf`, `volunteer`)."""
    return pages.render(request, template, {"w": visitor.words(), "phone": national_phone, **values}, status=status)


def national_phone(e164: str) -> str:
    """A number as people read and dial it at home ("137 0883 4901"), a foreign one with its country code; the
    `tel:` link keeps E.164."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = number.country_code == 86
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def not_found(request: web.Request, visitor: Visitor) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.not_found_title"), w("error.not_found"), status=404)


def bad_input(request: web.Request, visitor: Visitor, text: str | None = None) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.bad_title"), text or w("error.bad"), status=400)


def message(request: web.Request, visitor: Visitor, title: str, text: str, *, status: int = 200) -> web.Response:
    return render(request, "v_message.html", visitor, status=status, title=title, text=text)


def photo_store(request: web.Request) -> PhotoStore:
    return request.app[PHOTOS]


class FormRefused(Exception):
    """A posted photo refused; `reason` says why (PhotoRefused's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_form(request: web.Request, visitor: Visitor) -> tuple[dict[str, str], str | None]:
    """The posted text fields and the reference of a photo in them (stored under the form's `upload_id`).

    guard.signed_in has checked the post (same site, CSRF token) already. A page's script sends its token as a
    header, so the guard leaves the body alone and a photo is read here as a stream, up to photos.MAX_BYTES; a plain
    form (no script) carries the token as a field, which the guard read with the whole body (the application's
    body limit applies then). Raises FormRefused."""
    if request.content_type == "multipart/form-data" and guard.CSRF_HEADER in request.headers:
        return await _streamed(request, visitor)
    fields: dict[str, str] = {}
    photo_ref: str | None = None
    for name, value in (await request.post()).items():
        if isinstance(value, FileField):
            if name == "photo" and value.filename:
                data = await asyncio.to_thread(value.file.read, MAX_BYTES + 1)
                photo_ref = await _save(request, visitor, fields, data)
        else:
            fields[name] = str(value)[:_TEXT_LIMIT]
    return fields, photo_ref


async def _streamed(request: web.Request, visitor: Visitor) -> tuple[dict[str, str], str | None]:
    fields: dict[str, str] = {}
    photo_ref: str | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = (await part.read_chunk(_TEXT_LIMIT * 4)).decode("utf-8", "replace")[:_TEXT_LIMIT]
        elif part.name == "photo" and part.filename:
            try:
                data = await read_limited(part)
            except PhotoRefused as refused:
                raise FormRefused(refused.reason) from None
            photo_ref = await _save(request, visitor, fields, data)
        else:
            await part.release()
    return fields, photo_ref


async def _save(request: web.Request, visitor: Visitor, fields: dict[str, str], data: bytes) -> str:
    try:
        return await photo_store(request).save(
            volunteer_id=visitor.id, upload_id=fields.get("upload_id", ""), data=data
        )
    except PhotoRefused as refused:
        raise FormRefused(refused.reason) from None


def given_photo(request: web.Request, visitor: Visitor, fields: dict[str, str], uploaded: str | None) -> str | None:
    """The photo of a form: the file sent with it, else the reference the page's script uploaded earlier, if it is
    one of this volunteer's (a crafted reference to another's is ignored)."""
    if uploaded:
        return uploaded
    ref = fields.get("photo_ref", "").strip()
    return ref if ref and photo_store(request).owns(volunteer_id=visitor.id, ref=ref) else None


def refused_answer(request: web.Request, visitor: Visitor, refused: FormRefused) -> web.Response:
    w = visitor.words()
    if refused.reason == "too_big":
        return bad_input(request, visitor, w("photo.too_big", mb=MAX_BYTES // (1024 * 1024)))
    if refused.reason == "not_image":
        return bad_input(request, visitor, w("photo.not_image"))
    return bad_input(request, visitor)


def int_of(value: str | None) -> int | None:
    """A positive database id from a form or query value, None for anything else (never an exception)."""
    text = (value or "").strip()
    return int(text) if text.isdecimal() and 0 < len(text) <= 18 else None
