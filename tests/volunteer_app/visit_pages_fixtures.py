"""The volunteer app on a real port against the test database, signed-in clients, and the people of the pages' tests.

Imported by name by the visit and emergency page tests (not a conftest: the app's core keeps its own there).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.security import secure
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.models import Area, Elder, EmergencyContact, Visit, Volunteer
from carevisit.volunteer_app.app import add_volunteer_app
from carevisit.volunteer_app.deps import AppDeps
from carevisit.volunteer_app.page_common import PHOTOS
from carevisit.volunteer_app.photos import PhotoStore
from tests.factories import make_area_tree, make_contact, make_elder, make_visit, make_volunteer
from tests.volunteer_app.conftest import sign_in_volunteer

ZONE = ZoneInfo("Asia/Shanghai")
# The smallest real PNG (1×1): what a camera sends starts with the same magic bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class World:
    areas: dict[str, Area]
    me: Volunteer
    other: Volunteer  # serves another community
    elder: Elder  # 王秀英, in my community
    second: Elder  # 李桂兰, in my community
    stranger_elder: Elder  # in the other community
    contact: EmergencyContact
    visit: Visit  # mine, open now
    overdue: Visit  # mine, window ended
    later: Visit  # mine, window not yet open
    others_visit: Visit


@pytest.fixture
async def world(session: AsyncSession, clock: FakeClock) -> World:
    areas = await make_area_tree(session)
    me = await make_volunteer(session, clock, communities=[areas["community"]], name="张志愿")
    other = await make_volunteer(session, clock, communities=[areas["other_community"]], name="刘志愿")
    elder = await make_elder(session, clock, community=areas["community"], name="王秀英")
    second = await make_elder(session, clock, community=areas["community"], name="李桂兰")
    stranger_elder = await make_elder(session, clock, community=areas["other_community"], name="陈阿婆")
    contact = await make_contact(session, elder=elder, name="王芳", relation="女儿", phone="+8613912345678")
    visit = await make_visit(session, clock, elder=elder, volunteer_id=me.id)
    overdue = await make_visit(
        session,
        clock,
        elder=second,
        volunteer_id=me.id,
        slot=1,
        window_start=date(2026, 3, 1),
        window_end=date(2026, 3, 7),
    )
    later = await make_visit(
        session,
        clock,
        elder=second,
        volunteer_id=me.id,
        slot=2,
        window_start=date(2026, 3, 15),
        window_end=date(2026, 3, 21),
    )
    others_visit = await make_visit(session, clock, elder=stranger_elder, volunteer_id=other.id)
    await session.commit()
    return World(areas, me, other, elder, second, stranger_elder, contact, visit, overdue, later, others_visit)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    return tmp_path / "photos"


def build_app(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, photo_dir: Path, language: str = "zh_CN"
) -> web.Application:
    """The volunteer app as carevisit/web.py mounts it: behind the service's security middleware."""
    app = web.Application(client_max_size=2 * 1024 * 1024)
    secure(app, language=language)
    field = FieldContext(clock=clock, zone=ZONE, policy=DEFAULT_POLICY, language=language)
    deps = AppDeps(
        sessions=sessions,
        clock=clock,
        zone=ZONE,
        language=language,
        field=field,
        secure_cookies=False,
        public_url=None,
    )
    add_volunteer_app(app, deps)
    app[PHOTOS] = PhotoStore(photo_dir)
    return app


@pytest.fixture
async def server(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, photo_dir: Path
) -> AsyncIterator[TestServer]:
    server = TestServer(build_app(session_factory, clock, photo_dir), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


def form_of(page: str, action: str | None = None) -> tuple[str, dict[str, str]]:
    """The action ("" when the form posts to its own page) and hidden fields of the page's first form (posting to
    `action` when given)."""
    for match in re.finditer(r"<form\b([^>]*)>(.*?)</form>", page, re.S):
        found = re.search(r'action="([^"]*)"', match.group(1))
        target = unescape(found.group(1)) if found else ""
        if action is None or target == action:
            hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2))
            return target, {name: unescape(value) for name, value in hidden}
    raise AssertionError(f"no form posting to {action!r}")


# Signing in as a phone does (the link's page, then its 进入 button): the app core's own helper.
sign_in = sign_in_volunteer


async def csrf_of(client: aiohttp.ClientSession, path: str) -> str:
    page = await (await client.get(path)).text()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, f"{path} has no form"
    return match.group(1)


def visible_text(page: str) -> str:
    """What a person reads: the page without its tags, attributes, scripts and styles."""
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", page))
