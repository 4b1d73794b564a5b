"""Roster upload in the dashboard over real HTTP: upload → check (the CLI's problems, as a workbook too) → confirm."""

from __future__ import annotations

import io
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from openpyxl import load_workbook
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.dashboard import roster_views
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Elder
from tests.dashboard.conftest import csrf_of, sign_in
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv


def roster(tmp_path: Path, rows: list[list[str]]) -> bytes:
    return write_csv(tmp_path / "roster.csv", ELDER_HEADER_ZH, rows).read_bytes()


async def send(client: aiohttp.ClientSession, content: bytes, *, kind: str = "elders", name: str = "南山区名单.csv"):  # type: ignore[no-untyped-def]
    form = aiohttp.FormData()
    form.add_field("csrf", await csrf_of(client, "/admin/roster"))
    form.add_field("kind", kind)
    form.add_field("roster", content, filename=name, content_type="text/csv")
    return await client.post("/admin/roster", data=form)


def csrf_for(client: aiohttp.ClientSession) -> str:
    """The token a page would carry (the upload page is refused to this account, so none carries it)."""
    cookie = next(morsel.value for morsel in client.cookie_jar if morsel.key == COOKIE)
    return SessionSigner(b"test-secret").csrf_token(cookie)


async def elders(session: AsyncSession) -> int:
    session.expire_all()
    return int((await session.exec(select(func.count()).select_from(Elder))).one())


async def test_an_admin_uploads_sees_the_bad_row_downloads_the_problems_fixes_and_imports(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "admin", role=CoordinatorRole.ADMIN)
    client = await sign_in(server, "admin")
    try:
        bad = roster(tmp_path, [elder_row("E001"), elder_row("E002", birth_date="1942-13-40")])
        checked = await send(client, bad)
        page = await checked.text()
        assert checked.status == 200 and re.search(r"/admin/roster/[A-Za-z0-9_-]{32}$", str(checked.url))
        assert "第3行 D列（出生日期）" in page and "南山区名单.csv 有 1 个问题（共读取 2 行）" in page
        assert 'id="roster-confirm"' not in page and await elders(session) == 0
        workbook = await client.get(f"{checked.url.path}/problems.xlsx")
        assert workbook.status == 200 and "spreadsheetml" in workbook.content_type
        assert "filename*=UTF-8''" in workbook.headers["Content-Disposition"]
        sheet = load_workbook(io.BytesIO(await workbook.read())).active
        assert sheet is not None
        head = [cell.value for cell in sheet[1]]
        problem_row = dict(zip(head, (cell.value for cell in sheet[2]), strict=True))
        assert problem_row["编号"] == "E002" and "出生日期" in problem_row["问题"] and problem_row["原表行号"] == 3

        good = await send(client, roster(tmp_path, [elder_row("E001"), elder_row("E002")]))
        page = await good.text()
        assert "全部 2 行老人记录有效" in page and "正式导入将新增 2 条、更新 0 条老人记录" in page
        assert await elders(session) == 0, "checked, not written"
        csrf = await csrf_of(client, good.url.path)
        done = await client.post(f"{good.url.path}/confirm", data={"csrf": csrf})
        assert done.status == 200 and "已从 南山区名单.csv 导入 2 条老人记录：新增 2，更新 0" in await done.text()
        assert await elders(session) == 2
        again = await client.post(f"{good.url.path}/confirm", data={"csrf": csrf})
        assert again.status == 404, "a confirmed upload is gone"
    finally:
        await client.close()


async def test_rows_outside_the_admins_area_are_problems_and_others_cannot_use_the_token(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["street"], "yuehai-admin", role=CoordinatorRole.ADMIN)
    await coordinator_factory(areas["other_street"], "shahe-admin", role=CoordinatorRole.ADMIN)
    client = await sign_in(server, "yuehai-admin")
    other = await sign_in(server, "shahe-admin")
    try:
        rows = [elder_row("E001"), elder_row("E002", street="沙河街道", community="华侨城社区")]
        checked = await send(client, roster(tmp_path, rows))
        assert "第3行 J列（街道）：不在你管辖的 广东省/深圳市/南山区/粤海街道 范围内" in await checked.text()
        for path in (checked.url.path, f"{checked.url.path}/problems.xlsx"):
            assert (await other.get(path)).status == 404
        csrf = await csrf_of(other, "/admin/roster")
        assert (await other.post(f"{checked.url.path}/confirm", data={"csrf": csrf})).status == 404
        assert await elders(session) == 0
    finally:
        await client.close()
        await other.close()


async def test_an_upload_without_a_sign_in_is_sent_to_the_login_unread(server: TestServer, tmp_path: Path) -> None:
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as anonymous:
        form = aiohttp.FormData()
        form.add_field("kind", "elders")
        form.add_field("roster", roster(tmp_path, [elder_row("E001")]), filename="a.csv")
        response = await anonymous.post("/admin/roster", data=form, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"


@pytest.mark.parametrize("role", [CoordinatorRole.VIEWER, CoordinatorRole.COORDINATOR])
async def test_only_an_admin_may_upload(
    server: TestServer, session: AsyncSession, areas: dict[str, Area], coordinator_factory, tmp_path: Path, role
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "someone", role=role)
    client = await sign_in(server, "someone")
    try:
        assert (await client.get("/admin/roster")).status == 403
        form = aiohttp.FormData()
        form.add_field("csrf", csrf_for(client))  # a valid token: the refusal is the role's, not the form's
        form.add_field("kind", "elders")
        form.add_field("roster", roster(tmp_path, [elder_row("E001")]), filename="a.csv")
        assert (await client.post("/admin/roster", data=form)).status == 403
        assert await elders(session) == 0
    finally:
        await client.close()


async def test_bad_input_gets_a_clear_message_and_changes_nothing(
    server: TestServer,
    session: AsyncSession,
    areas: dict[str, Area],
    coordinator_factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # type: ignore[no-untyped-def]
    await coordinator_factory(areas["district"], "admin", role=CoordinatorRole.ADMIN)
    client = await sign_in(server, "admin")
    try:
        wrong_kind = await send(client, roster(tmp_path, [elder_row("E001")]), kind="cats")
        assert wrong_kind.status == 400 and "名单类型：请选择" in await wrong_kind.text()
        not_a_roster = await send(client, b"\x00\x01 not a roster", name="photo.csv")
        assert not_a_roster.status == 400 and "photo.csv" in await not_a_roster.text()
        assert (await client.get("/admin/roster/" + "A" * 32)).status == 404
        assert (await client.get("/admin/roster/../../etc")).status == 404
        monkeypatch.setattr(roster_views, "MAX_UPLOAD_BYTES", 4096)
        big = roster(tmp_path, [elder_row(f"E{n:04d}") for n in range(200)])
        too_large = await send(client, big)
        assert too_large.status == 413 and "文件太大" in await too_large.text()
        assert await elders(session) == 0
    finally:
        await client.close()
