"""Emergencies and problem reports: numbers at once, the elder's contacts, an incident for the escalation engine,
coordinators told through the rate-limited chat outbox, and acknowledging from the chat."""

from __future__ import annotations

from aiogram import Bot
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_sender import ChatSender
from carevisit.bot.notifier import TelegramNotifier
from carevisit.care.clock import FakeClock
from carevisit.storage.enums import IncidentStatus, ProblemCategory
from carevisit.storage.models import ChatOutboxMessage, Incident, IncidentNote, Problem
from tests.bot.conftest import ACKNOWLEDGE, COORDINATOR_TG, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.bot.stories import confirm


async def test_sos_from_a_visit_shows_numbers_and_contacts_and_opens_one_incident(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/visits")
    message, data = tg.button(VOLUNTEER_TG, "🆘")
    await volunteer_person.press_data(data, message)
    numbers, contacts = tg.texts(VOLUNTEER_TG)[-2:]
    assert all(n in numbers for n in ("120", "110", "119"))
    assert t("Emergency: call now if needed", language) in numbers
    assert "陈女儿 (女儿) +8613900000001" in contacts and "陈儿子 (儿子) +8613900000002" in contacts
    incident = (await session.exec(select(Incident))).one()
    assert (incident.elder_id, incident.visit_id, incident.reporter_volunteer_id) == (
        world.elder.id,
        world.visit.id,
        world.volunteer.id,
    )
    assert incident.status == IncidentStatus.OPEN and incident.policy["steps"]

    await volunteer_person.press_data(data, message)  # a second tap joins the open emergency
    assert t("An emergency for this elder is already open; its contacts are below.", language) in tg.last_text(
        VOLUNTEER_TG
    )
    assert len((await session.exec(select(Incident))).all()) == 1


async def test_coordinator_is_told_through_the_outbox_and_acknowledges_from_the_chat(
    world: World,
    volunteer_person: Person,
    coordinator_person: Person,
    tg: FakeTelegram,
    language: str,
    session: AsyncSession,
    session_factory,  # type: ignore[no-untyped-def]
    clock: FakeClock,
    bot: Bot,
) -> None:
    world.coordinator.language = language
    session.add(world.coordinator)
    await session.commit()
    await volunteer_person.send("/sos")
    assert all(n in tg.texts(VOLUNTEER_TG)[-2] for n in ("120", "110", "119"))  # before choosing the elder
    await volunteer_person.press("陈<奶奶>")  # button captions are plain text, not HTML
    queued = (await session.exec(select(ChatOutboxMessage))).all()
    assert [row.recipient for row in queued] == [str(COORDINATOR_TG)]

    await ChatSender(session_factory, TelegramNotifier(bot), clock).run_cycle()
    alert = tg.last_text(COORDINATOR_TG)
    assert "陈&lt;奶奶&gt;" in alert
    await coordinator_person.press(ACKNOWLEDGE[language])
    incident = (await session.exec(select(Incident))).one()
    await session.refresh(incident)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by == f"coordinator:{world.coordinator.id}" and incident.ack_channel == "telegram"
    assert tg.last_text(COORDINATOR_TG) == t("Emergency #{id} acknowledged. Thank you.", language).format(
        id=incident.id
    )


async def test_the_handling_record_is_asked_for_and_saved(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/sos")
    await volunteer_person.press("陈<奶奶>")
    await volunteer_person.press(t("Record the handling", language))
    assert tg.last_text(VOLUNTEER_TG) == t("Handling record (1/3): what happened?", language)
    await volunteer_person.send("老人在家摔倒")
    await volunteer_person.send("拨打120，联系了女儿")
    await volunteer_person.send("已送医院，情况稳定")
    assert tg.last_text(VOLUNTEER_TG) == t(
        "The handling record is saved. You can add to it later with the same button.", language
    )
    note = (await session.exec(select(IncidentNote))).one()
    assert (note.what_happened, note.actions_taken, note.outcome) == (
        "老人在家摔倒",
        "拨打120，联系了女儿",
        "已送医院，情况稳定",
    )
    assert note.author == f"volunteer:{world.volunteer.id}"


async def test_an_urgent_visit_outcome_raises_the_emergency_at_once(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await confirm(volunteer_person, outcome="urgent")
    assert "120" in tg.texts(VOLUNTEER_TG)[-2] and "陈女儿" in tg.last_text(VOLUNTEER_TG)
    incident = (await session.exec(select(Incident))).one()
    assert incident.visit_id == world.visit.id


async def test_a_non_urgent_problem_goes_to_the_referral_queue(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/problem")
    await volunteer_person.press("刘爷爷")
    await volunteer_person.press(t("Difficulty in daily living", language))
    await volunteer_person.send("冰箱坏了，<没有>人修")
    await volunteer_person.press(t("No", language))
    problem = (await session.exec(select(Problem))).one()
    assert (problem.category, problem.description, problem.urgent, problem.elder_id) == (
        ProblemCategory.LIVING_DIFFICULTY,
        "冰箱坏了，<没有>人修",
        False,
        world.elder2.id,
    )
    assert (await session.exec(select(Incident))).all() == []
    assert [row.recipient for row in (await session.exec(select(ChatOutboxMessage))).all()] == [str(COORDINATOR_TG)]


async def test_suspected_infection_shows_the_epidemic_instructions(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/visits")
    await volunteer_person.press("⚠️")
    await volunteer_person.press(t("Suspected infectious symptoms", language))
    await volunteer_person.send_content(
        photo=[{"file_id": "fever", "file_unique_id": "f", "width": 90, "height": 90}], caption="发烧咳嗽"
    )
    await volunteer_person.press(t("No", language))
    assert "戴口罩，保持距离" in tg.last_text(VOLUNTEER_TG)
    problem = (await session.exec(select(Problem))).one()
    assert problem.attachments == [{"kind": "photo", "file_id": "fever"}] and problem.description == "发烧咳嗽"


async def test_an_urgent_problem_also_opens_an_incident(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str, session: AsyncSession
) -> None:
    await volunteer_person.send("/problem")
    await volunteer_person.press("陈<奶奶>")
    await volunteer_person.press(t("Health", language))
    await volunteer_person.send_content(voice={"file_id": "voice1", "file_unique_id": "v", "duration": 3})
    await volunteer_person.press(t("Yes, urgent", language))
    problem = (await session.exec(select(Problem))).one()
    incident = (await session.exec(select(Incident))).one()
    assert problem.urgent and incident.problem_id == problem.id
    assert "陈女儿" in tg.last_text(VOLUNTEER_TG)


async def test_sos_sends_the_emergency_numbers_once(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await volunteer_person.send("/sos")
    await volunteer_person.press("陈<奶奶>")
    with_numbers = [m for m in tg.texts(VOLUNTEER_TG) if all(n in m for n in ("120", "110", "119"))]
    assert len(with_numbers) == 1  # at /sos, before the elder was chosen; not again with the contacts
    assert "陈女儿" in tg.last_text(VOLUNTEER_TG)
