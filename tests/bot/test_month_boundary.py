"""A month's end, through the real bot: a visit made on the evening of the 31st is still listed and confirmed on the
1st and counts in its own month; once the 1st is over, what is still open is closed for good."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.visit_rate import visit_rate
from carevisit.scheduler.reminders import mark_missed
from carevisit.storage.enums import VisitKind, VisitStatus
from carevisit.storage.models import Visit
from tests.bot.conftest import SHANGHAI, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.stories import confirm, how_the_elder_is

LAST_MONTH = "last month's visit: if you made it then, confirm it today"


async def status_of(session: AsyncSession, visit: Visit) -> VisitStatus:
    await session.refresh(visit)
    return visit.status


async def test_a_visit_made_on_the_31st_is_confirmed_on_the_1st_and_counts_in_its_own_month(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=SHANGHAI))  # the scheduler's month-end job runs
    await mark_missed(session, clock=clock, zone=SHANGHAI)
    await session.commit()
    clock.set(datetime(2026, 4, 1, 8, 30, tzinfo=SHANGHAI))  # the morning after
    await volunteer_person.send("/visits")
    listed = tg.last_text(VOLUNTEER_TG)
    assert "陈&lt;奶奶&gt;" in listed and "刘爷爷" in listed  # both March visits, still open
    assert listed.count(t(LAST_MONTH, language)) == 2

    await confirm(volunteer_person)
    assert t("Visit to {name} confirmed. Thank you!", language).format(name="<b>陈&lt;奶奶&gt;</b>") in tg.last_text(
        VOLUNTEER_TG
    )
    assert await status_of(session, world.visit) == VisitStatus.DONE
    assert world.visit.month == "2026-03"
    march = await visit_rate(session, month="2026-03", area=world.areas["community"])
    april = await visit_rate(session, month="2026-04", area=world.areas["community"])
    assert (march.visited, april.visited) == (1, 0)  # it counts in March, when it was made

    # At 00:05 on the 2nd the month closes: what was left open is missed; the late confirmation stays.
    clock.set(datetime(2026, 4, 2, 0, 5, tzinfo=SHANGHAI))
    assert await mark_missed(session, clock=clock, zone=SHANGHAI) == 2
    await session.commit()
    assert await status_of(session, world.visit) == VisitStatus.DONE
    assert await status_of(session, world.visit2) == VisitStatus.MISSED


async def test_once_the_1st_is_over_last_months_visits_are_neither_listed_nor_confirmed(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 4, 1, 23, 50, tzinfo=SHANGHAI))
    await volunteer_person.send("/visits")
    message, data = tg.button(VOLUNTEER_TG, "✅")

    clock.set(datetime(2026, 4, 2, 0, 1, tzinfo=SHANGHAI))  # closed, though the month-end job has not run yet
    await volunteer_person.press_data(data, message)
    assert tg.alerts()[-1] == t("This visit can no longer be confirmed (cancelled or closed at month end).", language)
    assert await status_of(session, world.visit) == VisitStatus.PLANNED  # left for the month-end job to mark

    await volunteer_person.send("/visits")
    assert tg.last_text(VOLUNTEER_TG) == t("You have no visits due. Thank you!", language)


async def test_a_confirmation_begun_on_the_1st_and_finished_after_midnight_is_refused(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 4, 1, 23, 58, tzinfo=SHANGHAI))
    await volunteer_person.send("/visits")
    await volunteer_person.press("✅")
    await volunteer_person.press(t("Home visit", language))
    clock.set(datetime(2026, 4, 2, 0, 0, 1, tzinfo=SHANGHAI))
    await volunteer_person.press(t("Urgent!", language))  # the last tap: the month closed a second ago
    assert tg.alerts()[-1] == t("This visit can no longer be confirmed (cancelled or closed at month end).", language)
    assert await status_of(session, world.visit) == VisitStatus.PLANNED


async def test_an_unplanned_visit_logged_on_the_1st_can_be_yesterdays_and_counts_last_month(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=SHANGHAI))
    await volunteer_person.send("/unplanned")
    await volunteer_person.send("刘")
    await volunteer_person.press("刘爷爷")
    await volunteer_person.press(t("Phone call", language))
    assert t("When was the visit made?", language) in tg.last_text(VOLUNTEER_TG)  # asked only on the 1st
    await volunteer_person.press(t("Yesterday (last month)", language))
    await how_the_elder_is(volunteer_person)
    [logged] = (
        await session.exec(select(Visit).where(Visit.elder_id == world.elder2.id, Visit.kind == VisitKind.UNPLANNED))
    ).all()
    assert (logged.status, logged.month, logged.window_start) == (VisitStatus.DONE, "2026-03", date(2026, 3, 31))
    march = await visit_rate(session, month="2026-03", area=world.areas["community"])
    assert march.visited == 1

    clock.set(datetime(2026, 4, 2, 9, 0, tzinfo=SHANGHAI))  # a day later nobody is asked: it was made today
    await volunteer_person.send("/unplanned")
    await volunteer_person.send("陈")
    await volunteer_person.press("陈<奶奶>")
    await volunteer_person.press(t("Home visit", language))
    assert t("How is the elder?", language) in tg.last_text(VOLUNTEER_TG)
