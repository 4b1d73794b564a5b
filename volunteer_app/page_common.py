"""What every visit, problem and emergency page of the volunteer app shares: the signed-in volunteer with a database
session, rendering with the page's words and form token, the answers for refusals, and reading a posted form that
may carry a photo.

Refusals change nothing and look the same whether a row exists or is someone else's (404), so a crafted id learns
nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Volunteer
from carevisit.volunteer_app import csrf, guard, pages, visit_texts
from carevisit.volunteer_app.deps import DEPS, AppDeps
from carevisit.volunteer_app.photos import MAX_BYTES, PhotoRefused, PhotoStore

# Set by the composition root (under the data directory); without it photos go beside a default SQLite file.
PHOTOS: web.AppKey[PhotoStore] = web.AppKey("volunteer_app_photos", PhotoStore)
DEFAULT_PHOTO_DIR = Path("./carevisit-photos")
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


def render(request: web.Request, template: str, visitor: Visitor, status: int = 200, **values: Any) -> web.Response:
    context = {"w": visitor.words(), "csrf": csrf.token(request), "lang": visitor.language, **values}
    response = pages.render(request, template, context)
    response.set_status(status)
    csrf.keep(request, response, secure=visitor.deps.secure_cookies)
    return response


def not_found(request: web.Request, visitor: Visitor) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.not_found_title"), w("error.not_found"), status=404)


def bad_input(request: web.Request, visitor: Visitor, text: str | None = None) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.bad_title"), text or w("error.bad"), status=400)


def expired(request: web.Request, visitor: Visitor) -> web.Response:
    w = visitor.words()
    return message(request, visitor, w("error.bad_title"), w("error.expired"), status=403)


def message(request: web.Request, visitor: Visitor, title: str, text: str, *, status: int = 200) -> web.Response:
    return render(request, "v_message.html", visitor, status=status, title=title, text=text)


def photo_store(request: web.Request) -> PhotoStore:
    return request.app.get(PHOTOS) or PhotoStore(DEFAULT_PHOTO_DIR)


class FormRefused(Exception):
    """A posted form that is not ours (CSRF) or carries a refused photo; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_form(request: web.Request, visitor: Visitor) -> tuple[dict[str, str], str | None]:
    """The posted text fields and the reference of a photo in it (stored under the form's `upload_id`), after the
    CSRF check. Multipart is read as a stream, so a photo may exceed the application's body limit for forms; the
    token and the upload id come before the file in the page's fields. Raises FormRefused."""
    if request.content_type != "multipart/form-data":
        form = {key: str(value)[:_TEXT_LIMIT] for key, value in (await request.post()).items()}
        if not csrf.post_ok(request, form.get(csrf.FIELD)):
            raise FormRefused("csrf")
        return form, None
    fields: dict[str, str] = {}
    photo_ref: str | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = (await part.read_chunk(_TEXT_LIMIT * 4)).decode("utf-8", "replace")[:_TEXT_LIMIT]
            continue
        if not csrf.post_ok(request, fields.get(csrf.FIELD)):
            raise FormRefused("csrf")
        if part.name != "photo" or not part.filename:
            await part.release()  # no file chosen: browsers send an empty part
            continue
        try:
            photo_ref = await photo_store(request).save(
                volunteer_id=visitor.id, upload_id=fields.get("upload_id", ""), field=part
            )
        except PhotoRefused as refused:
            raise FormRefused(refused.reason) from None
    if not csrf.post_ok(request, fields.get(csrf.FIELD)):
        raise FormRefused("csrf")
    return fields, photo_ref


def given_photo(request: web.Request, visitor: Visitor, fields: dict[str, str], uploaded: str | None) -> str | None:
    """The photo of a form: the file sent with it, else the reference the page's script uploaded earlier, if it is
    one of this volunteer's (a crafted reference to another's is ignored)."""
    if uploaded:
        return uploaded
    ref = fields.get("photo_ref", "").strip()
    return ref if ref and photo_store(request).owns(volunteer_id=visitor.id, ref=ref) else None


def refused_answer(request: web.Request, visitor: Visitor, refused: FormRefused) -> web.Response:
    w = visitor.words()
    if refused.reason == "csrf":
        return expired(request, visitor)
    if refused.reason == "too_big":
        return bad_input(request, visitor, w("photo.too_big", mb=MAX_BYTES // (1024 * 1024)))
    if refused.reason == "not_image":
        return bad_input(request, visitor, w("photo.not_image"))
    return bad_input(request, visitor)


def int_of(value: str | None) -> int | None:
    """A positive database id from a form or query value, None for anything else (never an exception)."""
    text = (value or "").strip()
    return int(text) if text.isdecimal() and 0 < len(text) <= 18 else None
