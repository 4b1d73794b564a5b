"""Photos kept for visits and problems: what a stored reference names, where its file is, and whose area it is in.

Two kinds of reference live in `Visit.photo_ref` and a problem's attachments: the volunteer app's
(`app:<volunteer id>/<upload id>.<ext>`, a file under the photos folder) and the Telegram bot's (a Telegram
`file_id`, the file stays with Telegram). Only the first can be shown from here. A reference is read from the
database, but it is still treated as untrusted text: it never names a file outside the photos folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.storage.models import Area, Elder, Problem, Visit

APP_PREFIX = "app:"
_APP_REF = re.compile(r"^app:([1-9][0-9]{0,17})/([A-Za-z0-9_-]{8,64}\.(?:jpg|png|gif|webp|heic))$")
# Content types by the file's first bytes (never by its name): what phone cameras write.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
    (b"ftyphevc", 4, "image/heic"),
)
HEAD_BYTES = 16


def is_app_photo(ref: str | None) -> bool:
    """Whether the reference names a file the volunteer app stored (else a Telegram file id, or nothing)."""
    return bool(ref) and _APP_REF.match(ref or "") is not None


def uploader_of(ref: str) -> int | None:
    """The volunteer whose upload this is, from the reference (the folder it is stored in)."""
    match = _APP_REF.match(ref)
    return int(match.group(1)) if match else None


def stored_file(root: Path, ref: str) -> Path | None:
    """The file of an app reference inside `root`, None for anything else: another shape, a name that would leave
    the folder (checked again after resolving links), or no such file."""
    match = _APP_REF.match(ref)
    if match is None:
        return None
    base = root.resolve()
    path = (base / match.group(1) / match.group(2)).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def content_type(head: bytes) -> str | None:
    """The image type of a file by its first bytes; None when it is no image we keep."""
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic and (kind != "image/webp" or head[:4] == b"RIFF"):
            return kind
    return None


def photo_refs(attachments: list[dict[str, Any]] | None) -> list[str]:
    """A problem's photos in the order they were attached: the app's `ref` or the bot's `file_id`."""
    refs = []
    for attachment in attachments or []:
        if isinstance(attachment, dict) and attachment.get("kind") == "photo":
            ref = attachment.get("ref") or attachment.get("file_id")
            if isinstance(ref, str) and ref:
                refs.append(ref)
    return refs


async def visit_photo(session: AsyncSession, *, area: Area, visit_id: int) -> str | None:
    """The photo reference of a visit to an elder in the area's subtree; None when there is none (or the visit is
    elsewhere: the same answer)."""
    statement = (
        select(Visit.photo_ref)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .where(col(Visit.id) == visit_id, col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
    )
    return (await session.exec(statement)).first()


async def problem_photo(session: AsyncSession, *, area: Area, problem_id: int, n: int) -> str | None:
    """The `n`th photo (from 0) of a problem of an elder in the area's subtree; None when there is none."""
    statement = (
        select(Problem.attachments)
        .join(Elder, col(Elder.id) == col(Problem.elder_id))
        .where(col(Problem.id) == problem_id, col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
    )
    refs = photo_refs((await session.exec(statement)).first())
    return refs[n] if 0 <= n < len(refs) else None
