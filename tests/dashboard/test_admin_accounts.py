"""The admin's accounts page: only their own subtree, in both directions — whom they see and act on, and which areas
they can give a new account."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Coordinator
from tests.dashboard.conftest import csrf_of, post_login, sign_in

NEW = "a fine new secret"


@pytest.fixture
async def people(areas: dict[str, Area], coordinator_factory) -> dict[str, Coordinator]:  # type: ignore[no-untyped-def]
    return {
        "boss": await coordinator_factory(areas["street"], "boss", role=CoordinatorRole.ADMIN, name="街道管理员"),
        "member": await coordinator_factory(areas["community"], "member", name="社区协调员", phone="+8613800138000"),
        "neighbour": await coordinator_factory(areas["other_street"], "neighbour", name="沙河协调员"),
        "above": await coordinator_factory(areas["district"], "above", role=CoordinatorRole.ADMIN, name="区管理员"),
    }


def _account(**values: str) -> dict[str, str]:
    return {"username": "zhang", "name": "张社工", "role": "coordinator", "area": "440305001002"} | {
        "password": NEW, "password_again": NEW
    } | values  # fmt: skip


async def test_an_admin_sees_the_accounts_of_their_subtree_only(server: TestServer, people) -> None:  # type: ignore[no-untyped-def]
    async with await sign_in(server, "boss") as admin:
        page = await (await admin.get("/admin/coordinators")).text()
    assert "社区协调员" in page and "街道管理员" in page
    assert "沙河协调员" not in page and "区管理员" not in page
    assert "13800138000" not in page and "+86****00" in page  # masked
    assert "华侨城社区" not in page  # no other street's area to choose
    assert 'data-label="用户名"' in page


async def test_an_admin_adds_an_account_in_their_subtree_that_can_sign_in(
    server: TestServer, session: AsyncSession, people
) -> None:  # type: ignore[no-untyped-def]
    async with await sign_in(server, "boss") as admin:
        csrf = await csrf_of(admin, "/admin/coordinators")
        response = await admin.post("/admin/coordinators", data=_account(csrf=csrf))
        assert response.status == 200 and "已新增账号 zhang。" in await response.text()
    async with await sign_in(server, "zhang", NEW) as newcomer:
        assert (await newcomer.get("/", allow_redirects=False)).status == 200
    created = (await session.exec(select(Coordinator).where(Coordinator.username == "zhang"))).one()
    assert created.role == CoordinatorRole.COORDINATOR


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"area": "440305002"}, "区域：“440305002” 不存在或不在您管理的范围内"),  # the other street
        ({"area": "440305"}, "区域：“440305” 不存在或不在您管理的范围内"),  # above the admin's own area
        ({"password_again": "something else"}, "再次输入密码：两次输入的密码不一致"),
        ({"password": "short", "password_again": "short"}, "密码：至少需要 8 个字符"),
        ({"username": "member"}, "用户名：“member” 已被使用"),
        ({"username": "bad name!"}, "用户名：“bad name!”"),
        ({"role": "superuser"}, "角色：请选择"),
        ({"phone": "12345"}, "电话：“12345” 不是有效的电话号码"),
    ],
)
async def test_a_refused_account_names_the_field_and_writes_nothing(
    server: TestServer, session: AsyncSession, people, values: dict[str, str], says: str
) -> None:  # type: ignore[no-untyped-def]
    async with await sign_in(server, "boss") as admin:
        csrf = await csrf_of(admin, "/admin/coordinators")
        response = await admin.post("/admin/coordinators", data=_account(csrf=csrf, **values))
        assert response.status == 400
        assert says in await response.text()
    assert len((await session.exec(select(Coordinator))).all()) == 4


async def test_an_admin_resets_disables_and_enables_only_within_their_subtree(
    server: TestServer, session: AsyncSession, people
) -> None:  # type: ignore[no-untyped-def]
    member, neighbour = people["member"], people["neighbour"]
    async with await sign_in(server, "boss") as admin:
        csrf = await csrf_of(admin, "/admin/coordinators")
        password = {"csrf": csrf, "password": NEW, "password_again": NEW}
        for action, data in (("password", password), ("disable", {"csrf": csrf}), ("enable", {"csrf": csrf})):
            response = await admin.post(f"/admin/coordinators/{neighbour.id}/{action}", data=data)
            assert response.status == 404, action

        response = await admin.post(f"/admin/coordinators/{member.id}/disable", data={"csrf": csrf})
        assert "已停用账号 member。" in await response.text()
        async with await _fresh(server) as client:
            assert (await post_login(client, "member")).status == 401
        response = await admin.post(f"/admin/coordinators/{member.id}/enable", data={"csrf": csrf})
        assert "已启用账号 member。" in await response.text()

        himself = await admin.post(f"/admin/coordinators/{people['boss'].id}/disable", data={"csrf": csrf})
        assert himself.status == 400 and "不能停用自己的账号" in await himself.text()
    await session.refresh(neighbour)
    assert neighbour.active and neighbour.session_version == 0


async def test_only_admins_reach_the_accounts_page(server: TestServer, session: AsyncSession, people) -> None:  # type: ignore[no-untyped-def]
    async with await sign_in(server, "member") as coordinator:
        assert (await coordinator.get("/admin/coordinators")).status == 403
        csrf = await csrf_of(coordinator, "/drill")
        response = await coordinator.post("/admin/coordinators", data=_account(csrf=csrf, area="440305001001"))
        assert response.status == 403
        response = await coordinator.post(f"/admin/coordinators/{people['boss'].id}/disable", data={"csrf": csrf})
        assert response.status == 403
    assert len((await session.exec(select(Coordinator))).all()) == 4
    await session.refresh(people["boss"])
    assert people["boss"].active


async def _fresh(server: TestServer):  # type: ignore[no-untyped-def]
    import aiohttp

    return aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
