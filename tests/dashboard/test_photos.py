"""Photos volunteers take, seen by the coordinators of the elder's area and by nobody else.

The service's application as carevisit/web.py builds it (the dashboard and the volunteer app on one port, sharing
one photos folder): a volunteer reports a problem with a photo from the app, a coordinator opens it on the
dashboard over real HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.photos import content_type, stored_file
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.photo_views import PHOTO_DIR
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.enums import CoordinatorRole, ProblemCategory, VisitOutcome, VisitStatus
from carevisit.storage.models import Problem, Visit
from carevisit.volunteer_app.app import add_volunteer_app
from carevisit.volunteer_app.deps import AppDeps
from carevisit.volunteer_app.page_common import PHOTOS
from carevisit.volunteer_app.photos import PhotoStore
from carevisit.web import build_web_app
from tests.dashboard.conftest import PHONE, needs_chromium, sign_in, sign_in_page
from tests.volunteer_app.conftest import runtime_for, sign_in_volunteer
from tests.volunteer_app.visit_pages_fixtures import PNG, ZONE, World, form_of, photo_dir, world

__all__ = ["photo_dir", "world"]  # fixtures, used by name
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


@pytest.fixture
async def service(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, photo_dir: Path
) -> AsyncIterator[TestServer]:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    add_dashboard(
        app,
        sessions=session_factory,
        clock=clock,
        zone=ZONE,
        language="zh_CN",
        secret=b"test-secret",
        secure_cookies=False,
        photo_dir=photo_dir,
    )
    field = FieldContext(clock=clock, zone=ZONE, policy=DEFAULT_POLICY, language="zh_CN")
    deps = AppDeps(
        sessions=session_factory,
        clock=clock,
        zone=ZONE,
        language="zh_CN",
        field=field,
        secure_cookies=False,
        public_url=None,
    )
    add_volunteer_app(app, deps)
    app[PHOTOS] = PhotoStore(photo_dir)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def coordinators(world: World, coordinator_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Usernames: the community's coordinator, a read-only viewer of its street, and the other street's."""
    await coordinator_factory(world.areas["community"], "tech")
    await coordinator_factory(world.areas["street"], "street-viewer", role=CoordinatorRole.VIEWER)
    await coordinator_factory(world.areas["other_street"], "shahe")
    return {"own": "tech", "viewer": "street-viewer", "other": "shahe"}


async def report_with_photo(server: TestServer, session: AsyncSession, clock: FakeClock, world: World) -> Problem:
    """The volunteer app's own flow: the problem form with a photo from the camera."""
    client = await sign_in_volunteer(server, session, clock, world.me)
    try:
        page = await (await client.get(f"/v/problems/new?visit={world.visit.id}")).text()
        _action, hidden = form_of(page, "/v/problems")
        form = aiohttp.FormData()
        for name, value in hidden.items():
            form.add_field(name, value)
        form.add_field("category", "home_safety")
        form.add_field("description", "煤气灶漏气")
        form.add_field("photo", PNG, filename="gas.png", content_type="image/png")
        response = await client.post("/v/problems", data=form, allow_redirects=False)
        assert response.status == 303, await response.text()
    finally:
        await client.close()
    return (await session.exec(select(Problem))).one()


async def problem_with(session: AsyncSession, clock: FakeClock, world: World, attachments: list[dict]) -> Problem:
    now = clock.now()
    problem = Problem(
        elder_id=world.elder.id,
        category=ProblemCategory.HEALTH,
        description="腿疼",
        attachments=attachments,
        created_at=now,
        updated_at=now,
    )
    session.add(problem)
    await session.commit()
    return problem


def stored(photo_dir: Path, volunteer_id: int | None, name: str, data: bytes) -> str:
    folder = photo_dir / str(volunteer_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return f"app:{volunteer_id}/{name}"


async def test_the_coordinators_of_the_area_see_a_problems_photo_and_nobody_else_does(
    service: TestServer, session: AsyncSession, clock: FakeClock, world: World, coordinators: dict[str, str]
) -> None:
    problem = await report_with_photo(service, session, clock, world)
    address = f"/problems/{problem.id}/photos/0"
    for who in ("own", "viewer"):
        client = await sign_in(service, coordinators[who])
        page = await (await client.get("/problems")).text()
        assert f'<img src="{address}"' in page and 'loading="lazy"' in page
        response = await client.get(address)
        assert response.status == 200, who
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert await response.read() == PNG
        assert (await client.get(f"/problems/{problem.id}/photos/1")).status == 404  # it has one photo
        await client.close()
    other = await sign_in(service, coordinators["other"])
    assert address not in await (await other.get("/problems")).text()
    response = await other.get(address)
    assert response.status == 404 and "找不到该照片" in await response.text()
    await other.close()
    async with aiohttp.ClientSession(base_url=str(service.make_url(""))) as nobody:
        assert (await nobody.get(address, allow_redirects=False)).status == 404
    volunteer = await sign_in_volunteer(service, session, clock, world.me)  # the app's device cookie is no sign-in
    assert (await volunteer.get(address, allow_redirects=False)).status == 404
    await volunteer.close()


async def test_a_visit_photo_shows_in_the_elders_visit_history(
    service: TestServer,
    session: AsyncSession,
    clock: FakeClock,
    world: World,
    coordinators: dict[str, str],
    photo_dir: Path,
) -> None:
    visit = await session.get(Visit, world.visit.id)
    assert visit is not None
    # Named .png, a JPEG inside: the type comes from the file's bytes, never from its name.
    visit.photo_ref = stored(photo_dir, world.me.id, "visit-photo-1.png", JPEG)
    visit.status, visit.outcome, visit.done_at = VisitStatus.DONE, VisitOutcome.WELL, clock.now()
    await session.commit()
    client = await sign_in(service, coordinators["own"])
    page = await (await client.get(f"/elders/{world.elder.id}")).text()
    assert f'<img src="/visits/{visit.id}/photo"' in page
    response = await client.get(f"/visits/{visit.id}/photo")
    assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert (await client.get(f"/visits/{world.others_visit.id}/photo")).status == 404  # no photo
    await client.close()
    other = await sign_in(service, coordinators["other"])
    assert (await other.get(f"/visits/{visit.id}/photo")).status == 404
    await other.close()


async def test_a_telegram_photo_is_named_not_shown_and_what_is_not_an_image_is_not_served(
    service: TestServer,
    session: AsyncSession,
    clock: FakeClock,
    world: World,
    coordinators: dict[str, str],
    photo_dir: Path,
) -> None:
    script = stored(photo_dir, world.me.id, "not-a-photo.png", b"<html><script>alert(1)</script></html>")
    telegram = await problem_with(session, clock, world, [{"kind": "photo", "file_id": "AgACAgUAAxkBAAIB"}])
    disguised = await problem_with(session, clock, world, [{"kind": "photo", "ref": script}])
    client = await sign_in(service, coordinators["own"])
    page = await (await client.get("/problems")).text()
    assert "照片在 Telegram 中" in page and f"/problems/{telegram.id}/photos/0" not in page
    assert (await client.get(f"/problems/{telegram.id}/photos/0")).status == 404
    assert (await client.get(f"/problems/{disguised.id}/photos/0")).status == 404
    await client.close()


@pytest.mark.parametrize(
    "ref",
    [
        "app:{me}/../{other}/theirs-photo.png",
        "app:{me}/../../secret-file.png",
        "app:../secret-file.png",
        "app:{me}/%2e%2e%2fsecret-file.png",
        "app:/etc/passwd",
        "/etc/passwd",
        "app:{me}/linked-out.png",  # a link inside the folder to a file outside it
    ],
)
async def test_a_reference_never_names_a_file_outside_the_photos_folder(
    service: TestServer,
    session: AsyncSession,
    clock: FakeClock,
    world: World,
    coordinators: dict[str, str],
    photo_dir: Path,
    tmp_path: Path,
    ref: str,
) -> None:
    (tmp_path / "secret-file.png").write_bytes(PNG)
    stored(photo_dir, world.other.id, "theirs-photo.png", PNG)
    (photo_dir / str(world.me.id)).mkdir(parents=True, exist_ok=True)
    (photo_dir / str(world.me.id) / "linked-out.png").symlink_to(tmp_path / "secret-file.png")
    ref = ref.format(me=world.me.id, other=world.other.id)
    assert stored_file(photo_dir, ref) is None
    problem = await problem_with(session, clock, world, [{"kind": "photo", "ref": ref}])
    client = await sign_in(service, coordinators["own"])
    assert (await client.get(f"/problems/{problem.id}/photos/0")).status == 404
    await client.close()


async def test_the_volunteer_who_took_a_photo_sees_it_in_the_app_and_another_volunteer_cannot(
    service: TestServer, session: AsyncSession, clock: FakeClock, world: World, photo_dir: Path
) -> None:
    problem = await report_with_photo(service, session, clock, world)
    assert problem.attachments
    name = str(problem.attachments[0]["ref"]).rsplit("/", 1)[1]
    mine = await sign_in_volunteer(service, session, clock, world.me)
    response = await mine.get(f"/v/photos/{name}")
    assert response.status == 200 and response.headers["Content-Type"] == "image/png"
    assert response.headers["Cache-Control"] == "no-store" and await response.read() == PNG
    assert (await mine.get("/v/photos/..%2F..%2Fcarevisit.db")).status == 404
    await mine.close()
    theirs = await sign_in_volunteer(service, session, clock, world.other)
    response = await theirs.get(f"/v/photos/{name}")
    assert response.status == 404 and "image" not in response.headers["Content-Type"]
    await theirs.close()
    async with aiohttp.ClientSession(base_url=str(service.make_url(""))) as nobody:
        response = await nobody.get(f"/v/photos/{name}", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"] == "/v/signed-out"
    assert (photo_dir / str(world.me.id) / name).read_bytes() == PNG


async def test_the_service_keeps_and_shows_photos_in_one_folder_under_the_data_dir(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    app = build_web_app(runtime_for(engine, clock, data_dir=str(tmp_path / "data")))
    assert app[PHOTOS].root == app[PHOTO_DIR] == tmp_path / "data" / "photos"


def test_content_types_come_from_the_first_bytes() -> None:
    assert content_type(PNG[:16]) == "image/png"
    assert content_type(JPEG[:16]) == "image/jpeg"
    assert content_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert content_type(b"\x00\x00\x00\x18ftypheic\x00\x00") == "image/heic"
    assert content_type(b"<svg xmlns=") is None
    assert content_type(b"") is None


@needs_chromium
async def test_the_problem_page_shows_the_photo_as_a_thumbnail_on_a_phone(
    browser,  # type: ignore[no-untyped-def]
    service: TestServer,
    session: AsyncSession,
    clock: FakeClock,
    world: World,
    coordinators: dict[str, str],
) -> None:
    problem = await report_with_photo(service, session, clock, world)
    context = await browser.new_context(viewport=PHONE)
    phone = await context.new_page()
    await sign_in_page(phone, service, coordinators["own"])
    await phone.goto(str(service.make_url("/problems")))
    thumb = phone.locator(f'a.thumb[href="/problems/{problem.id}/photos/0"] img')
    await thumb.scroll_into_view_if_needed()
    await phone.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle())
    box = await thumb.bounding_box()
    assert box is not None and 44 <= box["width"] <= 120 and 44 <= box["height"] <= 120
    width = await phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]
    async with context.expect_page() as opened:
        await thumb.click()
    photo = await opened.value
    await photo.wait_for_load_state()
    assert photo.url.endswith(f"/problems/{problem.id}/photos/0")
    await context.close()
