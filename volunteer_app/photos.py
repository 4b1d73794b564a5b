"""Photos volunteers take in the app: checked by their first bytes, kept as files under the data directory.

A photo is stored under the volunteer and an upload id the page made (`<volunteer>/<upload id>.<ext>`), so a
retried upload (a weak connection that dropped the answer, a double tap) stores the same file once and returns the
same reference. The reference goes into `visit.photo_ref` or a problem's attachments; the file never leaves disk
through the app (coordinators' pages may serve it later).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader

from carevisit.care.photos import APP_PREFIX, content_type

MAX_BYTES = 8 * 1024 * 1024
PREFIX = APP_PREFIX
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_STORED_NAME = re.compile(r"^[A-Za-z0-9_-]{8,64}\.(jpg|png|gif|webp|heic)$")
# The file extension a stored photo gets, by the image type its first bytes show (care.photos reads them).
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heic",
}


class PhotoRefused(ValueError):
    """Not an image, too large, or an upload id a page did not make. `reason`: too_big | not_image | bad_id."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def new_upload_id() -> str:
    return secrets.token_urlsafe(16)


def image_kind(head: bytes) -> str | None:
    """The file extension for an image's first bytes, None for anything else."""
    kind = content_type(head)
    return _EXTENSIONS[kind] if kind else None


@dataclass(frozen=True, slots=True)
class PhotoStore:
    root: Path

    async def save(self, *, volunteer_id: int, upload_id: str, data: bytes) -> str:
        """Store the photo once per (volunteer, upload id); returns its reference. Raises PhotoRefused."""
        if not _UPLOAD_ID.match(upload_id):
            raise PhotoRefused("bad_id")
        if len(data) > MAX_BYTES:
            raise PhotoRefused("too_big")
        existing = self._existing(volunteer_id, upload_id)
        if existing is not None:
            return existing  # a retry: the first upload arrived
        ext = image_kind(data[:16])
        if ext is None:
            raise PhotoRefused("not_image")
        folder = self.root / str(volunteer_id)
        final = folder / f"{upload_id}.{ext}"
        await asyncio.to_thread(_write_once, folder, final, data)
        return f"{PREFIX}{volunteer_id}/{final.name}"

    def owns(self, *, volunteer_id: int, ref: str) -> bool:
        """Whether `ref` names a stored photo of this volunteer (a form may name only their own)."""
        prefix = f"{PREFIX}{volunteer_id}/"
        if not ref.startswith(prefix):
            return False
        name = ref[len(prefix) :]
        return bool(_STORED_NAME.match(name)) and (self.root / str(volunteer_id) / name).is_file()

    def _existing(self, volunteer_id: int, upload_id: str) -> str | None:
        folder = self.root / str(volunteer_id)
        for path in folder.glob(f"{upload_id}.*") if folder.is_dir() else ():
            if not path.name.endswith(".part"):
                return f"{PREFIX}{volunteer_id}/{path.name}"
        return None


async def read_limited(field: BodyPartReader) -> bytes:
    """A streamed file part, refused (too_big) as soon as it passes MAX_BYTES."""
    chunks, size = [], 0
    while chunk := await field.read_chunk(64 * 1024):
        size += len(chunk)
        if size > MAX_BYTES:
            raise PhotoRefused("too_big")
        chunks.append(chunk)
    return b"".join(chunks)


def _write_once(folder: Path, final: Path, data: bytes) -> None:
    """Write to a temporary name and rename: a reader never sees half a photo, two racing uploads leave one."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f"{final.name}.{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    os.replace(partial, final)
