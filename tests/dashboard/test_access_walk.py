"""Every route of the dashboard, walked: a viewer is refused every action, a coordinator of another area finds none of
this area's people, ids beyond 64 bits are not found and bodies that are not UTF-8 are bad requests. The routes come
from the application itself, so a new page or action joins these tests by being registered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import CoordinatorRole, ProblemCategory, VisitStatus
from carevisit.storage.models import Area, Incident, Problem
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_elder, make_visit, make_volunteer

# Outside the one guard on purpose: they make the same checks themselves (tested in test_sign_in.py).
OPEN_POSTS = {"/login", "/logout"}
ELDER_NAME = "梁秀英"
# A form that would do something on every action we have: the guard must refuse it before any of it is read.
FORM = {
    "status": "closed", "resolution": "已处理", "referred_to": "民政", "outcome": "已处置", "what_happened": "跌倒",
    "actions_taken": "送医", "within_hours": "24", "reason": "高温", "elder": "FT-0001", "elder_code": "FT-0001",
    "username": "newcomer", "password": "long enough pw", "password_again": "long enough pw", "role": "admin",
    "area": "440305001", "name": "新人", "volunteer": "V00001", "month": "2026-03",
}  # fmt: skip


@pytest.fixture
async def world(session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """One of everything in 粤海街道 (the street), and the people who look at it."""
    elder = await make_elder(session, clock, community=areas["community"], name=ELDER_NAME, external_id="FT-0001")
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    visit = await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id, status=VisitStatus.PLANNED)
    problem = Problem(
        elder_id=elder.id, category=ProblemCategory.HOME_SAFETY, description="门锁坏了",  # type: ignore[arg-type]
        created_at=clock.now(), updated_at=clock.now(),
    )  # fmt: skip
    session.add(problem)
    await session.flush()
    incident = Incident(elder_id=elder.id, kind="fall", opened_at=clock.now())  # type: ignore[arg-type]
    session.add(incident)
    await session.commit()
    member = await coordinator_factory(areas["community"], "member")
    await coordinator_factory(areas["street"], "viewer", role=CoordinatorRole.VIEWER)
    await coordinator_factory(areas["other_street"], "other", role=CoordinatorRole.ADMIN)
    await coordinator_factory(areas["district"], "admin", role=CoordinatorRole.ADMIN)
    return {
        "elder_id": elder.id, "volunteer_id": volunteer.id, "visit_id": visit.id, "problem_id": problem.id,
        "incident_id": incident.id, "coordinator_id": member.id, "contact_id": 1, "organisation_id": 1,
    }  # type: ignore[dict-item]  # fmt: skip


def _routes(server: TestServer, method: str) -> list[web.AbstractResource]:
    """The application's resources that answer this method, but the static files."""
    app: web.Application = server.app  # type: ignore[assignment]
    found = {route.resource for route in app.router.routes() if route.method == method and route.resource}
    resources = [resource for resource in found if not isinstance(resource, web.StaticResource)]
    return sorted(resources, key=lambda resource: resource.canonical)


# For the parts of a route that are not ids (`export.{fmt}`, a month, a roster kind, an upload's token, a photo's
# number).
_CHOICES = ("csv", "xlsx", "json", "html", "txt", "2026-03", "elders", "volunteers", "0123456789abcdef", "0")


def _fill(resource: web.AbstractResource, ids: dict[str, Any]) -> str:
    """A path of this route with these ids; any other part takes the first choice the route accepts."""
    info = resource.get_info()
    if "formatter" not in info:
        return resource.canonical
    names = re.findall(r"\{([^}]+)\}", info["formatter"])
    unknown = [name for name in names if name not in ids]
    assert not [name for name in unknown if name.endswith("_id")], f"give {unknown} a value in this test's world"
    for choice in _CHOICES:
        path = info["formatter"].format(**{name: ids.get(name, choice) for name in names})
        if info["pattern"].fullmatch(path):
            return path
    raise AssertionError(f"no value fits {info['formatter']}")


async def _all_rows(session: AsyncSession) -> dict[str, list[str]]:
    session.expire_all()
    snapshot: dict[str, list[str]] = {}
    for table in SQLModel.metadata.sorted_tables:
        result = await session.exec(text(f"select * from {table.name}"))  # type: ignore[call-overload]
        snapshot[table.name] = sorted(repr(tuple(row)) for row in result.all())
    await session.commit()
    return snapshot


async def test_a_viewer_is_refused_every_action_and_nothing_changes(
    server: TestServer, session: AsyncSession, world: dict[str, int]
) -> None:
    posts = [resource for resource in _routes(server, "POST") if resource.canonical not in OPEN_POSTS]
    paths = {resource.canonical for resource in posts}
    assert "/problems/{problem_id}" in paths and "/admin/coordinators" in paths  # the walk sees the app's routes
    viewer = await sign_in(server, "viewer")
    async with viewer:
        csrf = await csrf_of(viewer, "/problems")
        before = await _all_rows(session)
        for resource in posts:
            path = resource.canonical
            response = await viewer.post(_fill(resource, world), data=FORM | {"csrf": csrf}, allow_redirects=False)
            assert response.status == 403, f"POST {path}: {response.status}"
        assert await _all_rows(session) == before


async def test_a_coordinator_of_another_area_finds_none_of_its_pages_people_or_exports(
    server: TestServer, session: AsyncSession, world: dict[str, int], areas: dict[str, Area]
) -> None:
    other = await sign_in(server, "other")
    async with other:
        for resource in _routes(server, "GET"):
            path = resource.canonical
            if path == "/login":
                continue
            response = await other.get(_fill(resource, world), allow_redirects=False)
            if "_id}" in path:  # a page of one of the street's elders, incidents, volunteers…: not theirs, not found
                assert response.status == 404, f"GET {path}: {response.status}"
            else:  # a list asked for the street: not found, or their own area without the street's people
                street = {"area": areas["street"].code}
                response = await other.get(_fill(resource, world), params=street, allow_redirects=False)
                assert response.status in (200, 404) or "{" in path, f"GET {path}?area=…: {response.status}"
            assert response.status < 500, f"GET {path}: {response.status}"
            assert ELDER_NAME not in await response.text(), f"GET {path} shows the street's elder"

        csrf = await csrf_of(other, "/drill")
        before = await _all_rows(session)
        for resource in _routes(server, "POST"):
            path = resource.canonical
            if path in OPEN_POSTS:
                continue
            response = await other.post(_fill(resource, world), data=FORM | {"csrf": csrf}, allow_redirects=False)
            if "_id}" in path:
                assert response.status == 404, f"POST {path}: {response.status}"
            assert response.status < 500, f"POST {path}: {response.status}"
        assert await _all_rows(session) == before


@pytest.mark.parametrize(
    "huge",
    ["12345678901234567890123", "9223372036854775808", "9" * 5000],  # 23 digits, 2**63, past int()'s own limit
)
async def test_an_id_beyond_64_bits_is_not_found_on_every_route(
    server: TestServer, world: dict[str, int], huge: str
) -> None:
    huge_ids = {name: huge for name in world}
    admin = await sign_in(server, "admin")
    async with admin:
        csrf = await csrf_of(admin, "/problems")
        for method in ("GET", "POST"):
            for resource in _routes(server, method):
                path = resource.canonical
                if "_id}" not in path:
                    continue
                data = FORM | {"csrf": csrf} if method == "POST" else None
                response = await admin.request(method, _fill(resource, huge_ids), data=data, allow_redirects=False)
                assert response.status == 404, f"{method} {path}: {response.status}"


async def test_a_form_that_is_not_utf8_is_a_bad_request_on_every_post(
    server: TestServer, session: AsyncSession, world: dict[str, int]
) -> None:
    admin = await sign_in(server, "admin")
    async with admin:
        csrf = await csrf_of(admin, "/problems")
        before = await _all_rows(session)
        for resource in _routes(server, "POST"):
            path = resource.canonical
            body = f"csrf={csrf}&status=closed&resolution=".encode() + b"\xff\xfe\xc3("
            response = await admin.post(
                _fill(resource, world),
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                allow_redirects=False,
            )
            assert response.status == 400, f"POST {path}: {response.status}"
        assert await _all_rows(session) == before
