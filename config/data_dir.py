"""Where the service keeps files (CAREVISIT_DATA_DIR): the photos volunteers upload, under `<data dir>/photos/`.

By default beside the SQLite database file, since that is where the service's data already is; with PostgreSQL (or
an in-memory database) in `./carevisit-data`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_FOLDER = "carevisit-data"
PHOTOS = "photos"


class DataDirUnusable(OSError):
    """The data directory cannot be created or written; the message says which folder and why."""


def default_data_dir(database_url: str | None) -> Path:
    try:
        url = make_url(database_url) if database_url else None
    except ArgumentError:
        url = None
    if url is not None and url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / DEFAULT_FOLDER
    return Path(DEFAULT_FOLDER)


def photos_dir(data_dir: Path) -> Path:
    return data_dir / PHOTOS


def prepare(data_dir: Path) -> None:
    """Create the data directory's folders and prove they can be written (a probe file, removed at once), so a
    service that could not keep a photo refuses to start instead of losing the first upload."""
    folder = photos_dir(data_dir)
    probe = folder / f".write-check-{secrets.token_hex(4)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise DataDirUnusable(f"{folder}: {error.strerror or error}") from None
