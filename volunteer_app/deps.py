"""What the volunteer app's views need, set once on the application by `add_volunteer_app`."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.fieldwork.context import FieldContext


@dataclass(frozen=True, slots=True)
class AppDeps:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    zone: ZoneInfo
    language: str  # the service default, "zh_CN" or "en"; a volunteer's own language wins
    field: FieldContext
    secure_cookies: bool  # the public URL is https: cookies are Secure
    public_url: str | None  # without a trailing slash; None: links are built from the request's own host


DEPS = web.AppKey("volunteer_app_deps", AppDeps)
