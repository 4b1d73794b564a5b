"""A visit nobody made: once its window has closed, the scheduler in the running service tells the coordinator in
Telegram, and the dashboard lists it as overdue, until the volunteer confirms it late."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tests.bot.conftest import SHANGHAI
from tests.bot.stories import confirm
from tests.e2e.conftest import COORDINATOR_TG, People, Stack, eventually

LANG = "zh_CN"


async def test_an_overdue_visit_reaches_the_coordinator_and_leaves_the_list_once_made(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await stack.link_coordinator(session, people.coordinator)

    # 王秀英's first home visit had the 10th to the 16th; the overdue job runs at a quarter past the hour.
    scheduler = stack.scheduler()
    await eventually(lambda: scheduler.is_leader, "the scheduler leading")
    stack.clock.set(datetime(2026, 3, 17, 8, 15, tzinfo=SHANGHAI))
    stack.fire_now(scheduler, "carevisit.overdue")
    notice = await eventually(
        lambda: next((m for m in stack.tg.texts(COORDINATOR_TG) if "王秀英" in m), None), "the overdue notice"
    )
    assert "刘建国" not in notice  # his window runs to the 31st

    dashboard = await stack.sign_in()
    async with dashboard.get("/overdue") as response:
        assert "王秀英" in await response.text()

    await confirm(volunteer)
    async with dashboard.get("/overdue") as response:
        assert "王秀英" not in await response.text()
    await dashboard.close()
