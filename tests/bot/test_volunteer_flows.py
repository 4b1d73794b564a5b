"""A volunteer's flows, end to end through the real aiogram Bot and a fake Bot API server, in both languages."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Problem, Visit
from tests.bot.conftest import VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.stories import answer, answer_caption, confirm


async def test_visits_lists_due_visits_nearest_first_with_escaped_names(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await volunteer_person.send("/visits")
    text = tg.last_text(VOLUNTEER_TG)
    assert t("Your visits", language) in text
    assert "陈&lt;奶奶&gt;" in text and "科技园路1号 &amp; 2栋" in text  # user strings are HTML-escaped
    assert "刘爷爷" in text


async def test_confirm_a_visit_in_a_few_taps(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await confirm(volunteer_person)
    assert t("Visit to {name} confirmed. Thank you!", language).format(name="<b>陈&lt;奶奶&gt;</b>") in tg.last_text(
        VOLUNTEER_TG
    )
    visit = await session.get(Visit, world.visit.id)
    assert visit is not None
    await session.refresh(visit)
    assert (visit.status, visit.done_mode, visit.outcome) == (VisitStatus.DONE, VisitMode.HOME, VisitOutcome.WELL)
    assert visit.done_by_volunteer_id == world.volunteer.id
    assert (await session.exec(select(Problem))).all() == []


async def test_checklist_concerns_become_problems_in_the_referral_queue(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    # health: concern, mood: ok, family: concern, home safety: ok, care needs: ok
    await confirm(volunteer_person, mode="phone", outcome="problem", answers="cocoo")
    assert t("{n} problem(s) sent to the coordinators' referral queue.", language).format(n=2) in tg.last_text(
        VOLUNTEER_TG
    )
    problems = (await session.exec(select(Problem).order_by(Problem.id))).all()
    assert [p.category for p in problems] == [ProblemCategory.HEALTH, ProblemCategory.CARER_OBLIGATION]
    assert all(p.visit_id == world.visit.id and not p.urgent for p in problems)


async def test_a_repeated_final_tap_is_handled_once(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await confirm(volunteer_person, outcome="problem", answers="oooo")
    message, data = tg.button(VOLUNTEER_TG, answer_caption(volunteer_person, 4, "c"))
    await volunteer_person.press_data(data, message)
    await volunteer_person.press_data(data, message)  # a double tap, or Telegram delivering it again
    assert t("This visit to {name} was already confirmed.", language).format(name="<b>陈&lt;奶奶&gt;</b>") in (
        tg.last_text(VOLUNTEER_TG)
    )
    problems = (await session.exec(select(Problem))).all()
    assert len(problems) == 1  # one care-needs problem, not two


async def test_note_photo_and_location_after_confirming(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await confirm(volunteer_person, mode="video")
    await volunteer_person.press(t("Add a note", language))
    await volunteer_person.send("老人说<腿>有点疼")
    await volunteer_person.press(t("Add a photo", language))
    await volunteer_person.send_content(
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800},
        ]
    )
    await volunteer_person.press(t("Add location", language))
    assert t("Send my location", language) in tg.reply_buttons(VOLUNTEER_TG)
    await volunteer_person.send_content(location={"latitude": 22.54, "longitude": 113.95})
    visit = await session.get(Visit, world.visit.id)
    assert visit is not None
    await session.refresh(visit)
    assert (visit.note, visit.photo_ref, visit.latitude, visit.longitude) == ("老人说<腿>有点疼", "big", 22.54, 113.95)


async def test_an_unplanned_visit_is_logged_and_confirmed(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/unplanned")
    await volunteer_person.send("刘")  # search by part of the name
    await volunteer_person.press("刘爷爷")
    await answer(volunteer_person, mode="phone")
    visits = (
        await session.exec(select(Visit).where(Visit.elder_id == world.elder2.id, Visit.kind == "unplanned"))
    ).all()
    assert len(visits) == 1
    assert (visits[0].status, visits[0].done_mode, visits[0].slot) == (VisitStatus.DONE, VisitMode.PHONE, 201)


async def test_the_profile_language_wins_over_the_apps(
    world: World, tg: FakeTelegram, deliver, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    chinese_app = Person(tg, VOLUNTEER_TG, "zh-hans", deliver)
    await chinese_app.send("/visits")
    assert "我的探访" in tg.last_text(VOLUNTEER_TG)
    await chinese_app.send("/language")
    await chinese_app.press("English")
    assert tg.last_text(VOLUNTEER_TG) == "Language set."
    await chinese_app.send("/visits")
    assert "Your visits" in tg.last_text(VOLUNTEER_TG)
    await session.refresh(world.volunteer)
    assert world.volunteer.language == "en"


async def test_a_late_tap_on_a_confirmed_visit_says_so(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    from carevisit.bot.callbacks import ConfirmCb

    await confirm(volunteer_person)
    await volunteer_person.press_data(ConfirmCb(visit_id=world.visit.id, mode="phone").pack())  # type: ignore[arg-type]
    assert t("This visit to {name} was already confirmed.", language).format(name="<b>陈&lt;奶奶&gt;</b>") in (
        tg.last_text(VOLUNTEER_TG)
    )
    visit = await session.get(Visit, world.visit.id)
    assert visit is not None
    await session.refresh(visit)
    assert visit.done_mode == VisitMode.HOME
    await volunteer_person.send("/visits")
    assert "陈&lt;奶奶&gt;" not in tg.last_text(VOLUNTEER_TG) and "刘爷爷" in tg.last_text(VOLUNTEER_TG)
