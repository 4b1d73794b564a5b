"""The bot as a newcomer finds it: a visit confirmed in at most 4 taps from the list, answers that fit each
question, every button naming its elder, visits not yet open listed without buttons, a digest button that opens
the list, and a photo sent right after confirming kept with the visit. Real aiogram over HTTP to the fake Bot API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from aiogram import Bot
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_sender import ChatSender
from carevisit.bot.notifier import TelegramNotifier
from carevisit.care.clock import FakeClock
from carevisit.care.confirmations import OK
from carevisit.scheduler.reminders import queue_daily_digests
from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Problem, Visit
from tests.bot.conftest import SHANGHAI, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.stories import MODES, OUTCOMES, answer_caption, confirm
from tests.factories import make_elder, make_visit

CHECKLIST_KEYS = ("health", "mood", "family", "home_safety", "care_needs")


class Thumb:
    """A volunteer's thumb: presses buttons by caption and counts the presses."""

    def __init__(self, person: Person) -> None:
        self.person, self.taps = person, 0

    async def press(self, caption: str) -> None:
        self.taps += 1
        await self.person.press(caption)


async def _visit(session: AsyncSession, visit: Visit) -> Visit:
    fresh = await session.get(Visit, visit.id, populate_existing=True)
    assert fresh is not None
    return fresh


def _buttons(tg: FakeTelegram, caption: str) -> list[str]:
    """Every button caption of the newest message that has a button containing `caption`."""
    message, _ = tg.button(VOLUNTEER_TG, caption)
    return [button["text"] for row in message["reply_markup"]["inline_keyboard"] for button in row]


async def test_an_all_fine_visit_is_confirmed_in_three_taps_from_the_list(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/visits")
    thumb = Thumb(volunteer_person)
    await thumb.press("✅ 陈<奶奶>")
    await thumb.press(t(MODES["phone"], language))
    assert _buttons(tg, t(OUTCOMES["well"], language)) == [
        f"👍 {t('All fine (skip the checklist)', language)}",
        t("Has a problem", language),
        f"🆘 {t('Urgent!', language)}",
    ]
    await thumb.press(t(OUTCOMES["well"], language))
    assert thumb.taps == 3
    visit = await _visit(session, world.visit)
    assert (visit.status, visit.done_mode, visit.outcome) == (VisitStatus.DONE, VisitMode.PHONE, VisitOutcome.WELL)
    assert visit.checklist == dict.fromkeys(CHECKLIST_KEYS, OK)
    assert (await session.exec(select(Problem))).all() == []
    assert t("Visit to {name} confirmed. Thank you!", language).format(name="<b>陈&lt;奶奶&gt;</b>") in tg.last_text(
        VOLUNTEER_TG
    )


async def test_an_urgent_visit_is_confirmed_and_raised_in_three_taps(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/visits")
    thumb = Thumb(volunteer_person)
    await thumb.press("✅ 陈<奶奶>")
    await thumb.press(t(MODES["home"], language))
    await thumb.press(t(OUTCOMES["urgent"], language))
    assert thumb.taps == 3
    assert (await _visit(session, world.visit)).outcome == VisitOutcome.URGENT
    assert "陈女儿" in tg.last_text(VOLUNTEER_TG)  # the elder's contacts, after the emergency numbers


async def test_a_problem_goes_through_the_checklist_with_answers_that_fit_each_question(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/visits")
    await volunteer_person.press("✅ 陈<奶奶>")
    await volunteer_person.press(t(MODES["home"], language))
    await volunteer_person.press(t(OUTCOMES["problem"], language))
    shown = []
    for question, letter in enumerate("oocoo"):  # the family rarely in touch
        shown.append(_buttons(tg, answer_caption(volunteer_person, question, letter)))
        await volunteer_person.press(answer_caption(volunteer_person, question, letter))
    if language == "zh_CN":
        assert shown[2] == ["常来往", "很少来往"]  # does the family visit or call? — not 正常/有问题
    assert all(t("Concern", language) not in captions for captions in shown)
    assert shown[2] == [t("Often in touch", language), t("Rarely in touch", language)]
    problems = (await session.exec(select(Problem))).all()
    assert [p.category for p in problems] == [ProblemCategory.CARER_OBLIGATION]


async def test_every_button_of_the_list_names_its_elder(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await volunteer_person.send("/visits")
    message, _ = tg.button(VOLUNTEER_TG, "✅")
    rows = [[button["text"] for button in row] for row in message["reply_markup"]["inline_keyboard"]]
    assert rows == [
        ["✅ 陈<奶奶>", "⚠️ 陈<奶奶>", "🆘 陈<奶奶>"],
        ["✅ 刘爷爷", "⚠️ 刘爷爷", "🆘 刘爷爷"],
    ]
    await volunteer_person.press("🆘 刘爷爷")  # the SOS of the elder it names, not of the first row
    assert "刘爷爷" in tg.last_text(VOLUNTEER_TG)


async def test_a_visit_whose_window_has_not_opened_is_listed_as_coming_up_without_buttons(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    later = await make_elder(session, clock, community=world.areas["community"], name="赵奶奶")
    await make_visit(
        session,
        clock,
        elder=later,
        volunteer_id=world.volunteer.id,
        window_start=date(2026, 3, 14),  # today is 03-10
        window_end=date(2026, 3, 20),
    )
    await session.commit()
    await volunteer_person.send("/visits")
    text = tg.last_text(VOLUNTEER_TG)
    coming_up = text.index(t("Coming up (not open yet)", language))
    assert text.index("赵奶奶") > coming_up > text.index("刘爷爷")
    assert t("opens {day}", language).format(day="03-14") in text
    assert not any("赵奶奶" in caption for caption in _buttons(tg, "✅"))


async def test_the_daily_digest_has_a_button_that_opens_the_list(
    world: World,
    volunteer_person: Person,
    tg: FakeTelegram,
    language: str,
    session: AsyncSession,
    session_factory,  # type: ignore[no-untyped-def]
    clock: FakeClock,
    bot: Bot,
) -> None:
    clock.set(datetime(2026, 3, 29, 8, 0, tzinfo=SHANGHAI))  # the visits close on the 31st: in the digest
    world.volunteer.language = language
    session.add(world.volunteer)
    await session.commit()
    async with session_factory() as s:
        await queue_daily_digests(s, clock=clock, zone=SHANGHAI, language="zh_CN")
        await s.commit()
    await ChatSender(session_factory, TelegramNotifier(bot), clock).run_cycle()
    caption = {"zh_CN": "📋 打开我的探访", "en": "📋 Open my visits"}[language]
    assert _buttons(tg, caption) == [caption]
    await volunteer_person.press(caption)
    assert t("Your visits", language) in tg.last_text(VOLUNTEER_TG)
    assert "✅ 陈<奶奶>" in _buttons(tg, "✅")
    await volunteer_person.press("✅ 陈<奶奶>")  # and on from there, as from /visits
    assert t("How was the visit made?", language) in tg.last_text(VOLUNTEER_TG)


async def test_a_photo_sent_right_after_confirming_is_kept_with_the_visit(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    await confirm(volunteer_person)
    clock.advance(timedelta(minutes=2))
    await volunteer_person.send_content(
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800},
        ]
    )
    assert tg.last_text(VOLUNTEER_TG) == t("Saved. Anything else?", language)
    assert (await _visit(session, world.visit)).photo_ref == "big"


async def test_a_photo_long_after_confirming_is_not_taken_for_that_visit(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    await confirm(volunteer_person)
    clock.advance(timedelta(minutes=30))
    await volunteer_person.send_content(photo=[{"file_id": "late", "file_unique_id": "l", "width": 9, "height": 9}])
    assert t("Sorry, I did not understand. Here is what I can do:", language) in tg.last_text(VOLUNTEER_TG)
    assert (await _visit(session, world.visit)).photo_ref is None


async def test_done_after_confirming_shows_the_visits_left_without_a_typed_command(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await confirm(volunteer_person)
    await volunteer_person.press(t("Done", language))
    assert t("Your visits", language) in tg.last_text(VOLUNTEER_TG)
    assert _buttons(tg, "✅") == ["✅ 刘爷爷", "⚠️ 刘爷爷", "🆘 刘爷爷"]  # the one just confirmed is gone
    await volunteer_person.press("✅ 刘爷爷")  # straight on to the next visit
    assert t("How was the visit made?", language) in tg.last_text(VOLUNTEER_TG)
