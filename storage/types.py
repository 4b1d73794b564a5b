"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import DateTime, String, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware.

    SQLite keeps no offset, so a naive value coming back is UTC by construction; a naive value going in is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use the injected clock")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum: type[Enum]) -> SAEnum:
    """A VARCHAR holding the enum's values (not names), returned as members; no native PostgreSQL enum to migrate."""
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=max(len(str(member.value)) for member in enum) + 8,
        values_callable=lambda members: [str(member.value) for member in members],
        validate_strings=True,
    )


def short_text(length: int = 255) -> Any:
    return String(length)
