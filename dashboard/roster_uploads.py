"""Roster files between upload and confirmation: each in a private temporary folder, under a random token that only
the coordinator who uploaded it can use, gone after `LIFETIME` or once imported.

In memory (the token → its file and the check's result) and on disk (the file itself, which the importer reads
twice: to check it, then to write it). One store per application; its folder goes when the application stops.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from carevisit.care.clock import Clock
from carevisit.roster.importer import ImportResult

LIFETIME = timedelta(minutes=30)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


@dataclass
class Upload:
    token: str
    coordinator_id: int
    kind: str  # "elders" or "volunteers"
    path: Path  # the file, under its own name (the importer's messages name it)
    expires: datetime
    check: ImportResult | None = None  # the dry run's outcome, shown on the check page


class UploadStore:
    def __init__(self, clock: Clock, *, lifetime: timedelta = LIFETIME) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._root = Path(tempfile.mkdtemp(prefix="carevisit-roster-"))  # mode 0700: this process's user only
        self._uploads: dict[str, Upload] = {}

    def save(self, *, coordinator_id: int, kind: str, name: str, source: BinaryIO) -> Upload:
        self.prune()
        token = secrets.token_urlsafe(24)
        folder = self._root / token
        folder.mkdir(mode=0o700)
        path = folder / safe_name(name)
        with path.open("wb") as target:
            shutil.copyfileobj(source, target)
        upload = Upload(token, coordinator_id, kind, path, self._clock.now() + self._lifetime)
        self._uploads[token] = upload
        return upload

    def find(self, token: str, *, coordinator_id: int) -> Upload | None:
        """The upload, if it exists, has not expired and is this coordinator's (the same None otherwise)."""
        self.prune()
        upload = self._uploads.get(token) if TOKEN.match(token) else None
        return upload if upload is not None and upload.coordinator_id == coordinator_id else None

    def discard(self, token: str) -> None:
        self._uploads.pop(token, None)
        shutil.rmtree(self._root / token, ignore_errors=True)

    def prune(self) -> None:
        now = self._clock.now()
        for token in [token for token, upload in self._uploads.items() if upload.expires <= now]:
            self.discard(token)

    def close(self) -> None:
        self._uploads.clear()
        shutil.rmtree(self._root, ignore_errors=True)


def safe_name(name: str) -> str:
    """The uploaded file's own name, without folders or characters a file system refuses; never empty."""
    cleaned = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    stem, dot, suffix = cleaned.rpartition(".")
    if dot and len(suffix) <= 8:
        return f"{stem[:80]}.{suffix}" if stem else f"roster.{suffix}"
    return cleaned[:80] or "roster"
