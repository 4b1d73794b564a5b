"""Story 1: a month is planned, a volunteer links with an invitation, gets the daily digest, confirms a home visit
in the chat, and the coordinator's dashboard shows the visit rate move."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.policies import visit_policy
from carevisit.scheduler.planning import generate_month
from carevisit.storage.enums import VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Visit
from tests.bot.conftest import SHANGHAI
from tests.bot.stories import confirm
from tests.e2e.conftest import COORDINATOR_TG, VOLUNTEER_TG, People, Stack, eventually

LANG = "zh_CN"


def month_rate(page: str) -> str:
    found = re.search(r'id="month-rate">([^<]+)<', page)
    assert found, "the overview shows no visit rate"
    return found.group(1)


async def test_planned_linked_reminded_confirmed_and_counted(
    stack: Stack, people: People, session: AsyncSession, clock: FakeClock
) -> None:
    summary = await generate_month(
        stack.sessions, clock=clock, zone=SHANGHAI, policy=visit_policy(None), month="2026-03"
    )
    assert summary.elders_planned == 2 and summary.unassigned_total == 0
    await stack.start()

    coordinator = await stack.sign_in()
    async with coordinator.get("/") as response:
        assert response.status == 200
        assert month_rate(await response.text()) == "0.0%"
    await coordinator.close()

    # The coordinator prints an invitation with the command line and hands the link over.
    invited = await stack.cli("invite", people.volunteer.external_id, "--bot-username", "carevisit_test_bot")
    assert invited.exit_code == 0, invited.output
    link = re.search(r"https://t\.me/carevisit_test_bot\?start=(\S+)", invited.output)
    assert link, invited.output
    token = link.group(1)
    volunteer = stack.person(VOLUNTEER_TG)
    await volunteer.send(f"/start {token}")
    assert "张伟" in stack.tg.last_text(VOLUNTEER_TG)

    # The scheduler runs in the service; its digest job fires at 09:00 local on the 13th, when the first home
    # visit's window (10th–16th) closes within three days.
    scheduler = stack.scheduler()
    await eventually(lambda: scheduler.is_leader, "the scheduler leading")
    clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=SHANGHAI))
    stack.fire_now(scheduler, "carevisit.digest")
    digest = await eventually(
        lambda: next((m for m in stack.tg.texts(VOLUNTEER_TG) if "探访提醒" in m), None), "the daily digest"
    )
    assert "王秀英" in digest

    await confirm(volunteer)
    assert "已确认" in stack.tg.last_text(VOLUNTEER_TG)

    confirmed = [v for v in (await session.exec(select(Visit).where(Visit.status == VisitStatus.DONE))).all()]
    assert [(v.elder_id, v.done_mode, v.outcome) for v in confirmed] == [
        (people.elder.id, VisitMode.HOME, VisitOutcome.WELL)
    ]
    coordinator = await stack.sign_in()  # three days on: yesterday's sign-in has expired
    async with coordinator.get("/") as response:
        assert month_rate(await response.text()) == "50.0%"  # one of the street's two elders visited

    # The same figure in the chat, for a coordinator who lives in Telegram.
    in_chat = await stack.link_coordinator(session, people.coordinator)
    await in_chat.send("/stats")
    assert "50.0%" in stack.tg.last_text(COORDINATOR_TG) and "1" in stack.tg.last_text(COORDINATOR_TG)
    await coordinator.close()
