"""A community worker's month in Chromium on a phone: a referral followed to its end, and last month's emergency
found again with its handling record."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp.test_utils import TestServer
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation import incidents
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.storage.enums import ProblemCategory, ProblemStatus
from carevisit.storage.models import Area, Problem
from tests.conftest import SHANGHAI
from tests.dashboard.conftest import needs_chromium, sign_in_page
from tests.factories import make_elder

pytestmark = needs_chromium


async def sign_in(page, server: TestServer, username: str) -> None:  # type: ignore[no-untyped-def]
    await sign_in_page(page, server, username)


async def test_a_referral_is_followed_until_it_is_closed(
    phone, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    elder = await make_elder(session, clock, community=areas["community"], name="王秀英")
    problem = Problem(
        elder_id=elder.id,  # type: ignore[arg-type]
        category=ProblemCategory.HOME_SAFETY,
        description="燃气灶打火不灵，有异味",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    session.add(problem)
    await session.commit()
    await coordinator_factory(areas["community"], "community-worker")

    await sign_in_page(phone, server, "community-worker")
    await phone.locator("header nav a", has_text="问题").click()
    row = phone.locator("tbody tr", has_text="王秀英")
    assert "居家安全" in await row.inner_text()  # the category in words, not home_safety
    await row.get_by_label("转介至").fill("街道燃气安全办")
    async with phone.expect_navigation():
        await row.get_by_role("button", name="转介").click()
    assert "已转介" in await phone.locator("#notice").inner_text()
    row = phone.locator("tbody tr", has_text="王秀英")
    assert "已转介" in await row.inner_text()

    async with phone.expect_navigation():  # closing asks for what was done: refused, nothing changes
        await row.get_by_role("button", name="办结").click()
    assert "办结需填写处理结果" in await phone.locator("[role=alert]").inner_text()
    row = phone.locator("tbody tr", has_text="王秀英")
    await row.get_by_label("处理结果").fill("燃气公司已上门更换灶具")
    async with phone.expect_navigation():
        await row.get_by_role("button", name="办结").click()
    assert await phone.locator("#notice").inner_text() == "已办结。"
    assert await phone.locator("tbody tr", has_text="王秀英").count() == 0
    await session.refresh(problem)
    assert problem.status == ProblemStatus.CLOSED and problem.resolution == "燃气公司已上门更换灶具"
    assert await phone.evaluate("document.documentElement.scrollWidth <= innerWidth")


async def test_last_months_resolved_emergency_is_found_with_its_handling_record(
    phone, server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    lead = await coordinator_factory(areas["street"], "street-lead", name="张主任")
    elder = await make_elder(session, clock, community=areas["community"], name="李桂兰")
    then = FakeClock(datetime(2026, 2, 20, 9, 0, tzinfo=SHANGHAI))  # handled last month, through the domain
    incident = await incidents.open_incident(
        session, clock=then, policy=DEFAULT_POLICY, elder_id=elder.id or 0, kind="fall", description="在家中跌倒"
    )
    then.advance(timedelta(minutes=4))
    await incidents.acknowledge(
        session, clock=then, incident_id=incident.id or 0, by=f"coordinator:{lead.id}", channel="dashboard"
    )
    then.advance(timedelta(hours=2))
    await incidents.resolve(
        session,
        clock=then,
        incident_id=incident.id or 0,
        by=f"coordinator:{lead.id}",
        what_happened="老人在卫生间滑倒",
        actions_taken="拨打120，联系女儿",
        outcome="已送南山医院，家属陪同",
    )
    await session.commit()

    await sign_in_page(phone, server, "street-lead")
    await phone.locator("header nav a", has_text="紧急事件").click()
    assert await phone.locator("#incidents tbody tr", has_text="李桂兰").count() == 0  # handled: not in the open tab
    async with phone.expect_navigation():
        await phone.locator("#incident-tabs").get_by_role("link", name="已结案").click()
    assert await phone.locator("#incidents tbody tr", has_text="李桂兰").count() == 0  # this month: none
    await phone.locator("select[name=month]").select_option(label="2026年2月")
    async with phone.expect_navigation():
        await phone.get_by_role("button", name="查看").click()
    row = phone.locator("#incidents tbody tr", has_text="李桂兰")
    assert "跌倒" in await row.inner_text() and "2026-02-20 11:04" in await row.inner_text()
    async with phone.expect_navigation():
        await row.get_by_role("link", name="李桂兰").click()
    record = await phone.locator("main").inner_text()
    assert "已送南山医院，家属陪同" in record and "已结案" in record and "张主任" in record
    assert await phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
