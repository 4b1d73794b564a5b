"""Coordinators in the chat: the visit rate toward 100%, overdue and unassigned visits of their area only."""

from __future__ import annotations

from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from tests.bot.conftest import COORDINATOR_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.stories import confirm
from tests.factories import make_elder, make_visit


async def test_stats_shows_this_months_visit_rate_of_the_area(
    world: World, volunteer_person: Person, coordinator_person: Person, tg: FakeTelegram, language: str
) -> None:
    await coordinator_person.send("/stats")
    assert "0.0%" in tg.last_text(COORDINATOR_TG) and "粤海街道" in tg.last_text(COORDINATOR_TG)
    await confirm(volunteer_person)
    await coordinator_person.send("/stats")
    expected = t(
        "Visit rate {month}, {area}: {percent} ({visited} of {eligible} elders visited; goal 100%).", language
    ).format(month="2026-03", area="粤海街道", percent="50.0%", visited=1, eligible=2)
    assert tg.last_text(COORDINATOR_TG) == expected


async def test_overdue_and_unassigned_list_only_the_coordinators_area(
    world: World,
    coordinator_person: Person,
    tg: FakeTelegram,
    language: str,
    session: AsyncSession,
    clock: FakeClock,
) -> None:
    late = await make_elder(session, clock, community=world.areas["community2"], name="周奶奶")
    await make_visit(session, clock, elder=late, window_end=date(2026, 3, 5), volunteer_id=world.volunteer.id)
    outside = await make_elder(session, clock, community=world.areas["other_community"], name="外区老人")
    await make_visit(session, clock, elder=outside, window_end=date(2026, 3, 5))
    nobody = await make_elder(session, clock, community=world.areas["community"], name="吴爷爷")
    await make_visit(session, clock, elder=nobody)
    await session.commit()
    await coordinator_person.send("/overdue")
    overdue = tg.last_text(COORDINATOR_TG)
    assert t("Overdue visits", language) in overdue and "周奶奶" in overdue and "外区老人" not in overdue
    await coordinator_person.send("/unassigned")
    unassigned = tg.last_text(COORDINATOR_TG)
    assert "吴爷爷" in unassigned and "外区老人" not in unassigned and "周奶奶" not in unassigned


async def test_a_volunteer_cannot_use_coordinator_commands(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await volunteer_person.send("/stats")
    assert t("Sorry, I did not understand. Here is what I can do:", language) in tg.last_text(volunteer_person.user_id)
    assert "%" not in tg.last_text(volunteer_person.user_id)
