"""What Telegram's faults must never take away: the emergency, the confirmation, the record. Each update here is
handled the way production handles it — stored, then fed to the dispatcher by the update processor, retried and
set aside — while the fake Bot API refuses what Telegram refuses (late taps, hiccups, a block)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.callbacks import IncidentAction, IncidentCb
from carevisit.bot.chat_sender import ChatSender
from carevisit.bot.notifier import TelegramNotifier
from carevisit.bot.updates import MAX_ATTEMPTS, UpdateProcessor, store_update
from carevisit.care.clock import FakeClock
from carevisit.care.invitations import create_invitation
from carevisit.storage.enums import CoordinatorRole, IncidentStatus, VisitOutcome, VisitStatus
from carevisit.storage.models import ChatOutboxMessage, Incident, IncidentNote, Problem, TelegramUpdate, Visit
from tests.bot.conftest import ACKNOWLEDGE, COORDINATOR_TG, STRANGER_TG, VIEWER_NOTICE, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person, flood, server_error
from tests.bot.stories import MODES, OUTCOMES, confirm, language_of, open_visit
from tests.factories import make_coordinator, make_volunteer

LATE = timedelta(seconds=20)  # past Telegram's 15 s to answer a tap: a restart or a backlog in between
VIEWER_TG = 2002
VIEWER_CANNOT_ACK = "A read-only account cannot acknowledge emergencies; a coordinator of the area will."
APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment. In an emergency, call 120 directly."


@dataclass
class Processing:
    """Updates handled as production handles them: stored as the webhook does, then fed to the dispatcher by the
    update processor, which retries a failing update and then sets it aside."""

    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    dp: Dispatcher
    bot: Bot

    async def store(self, update: dict[str, Any], *, after: timedelta = timedelta(0)) -> None:
        """Telegram delivers the update; `after` passes before the processor gets to it."""
        assert await store_update(self.sessions, clock=self.clock, payload=update)
        self.clock.advance(after)

    async def attempt(self) -> int:
        return await UpdateProcessor(self.sessions, self.dp, self.bot, self.clock, asyncio.Event()).run_cycle()

    async def finish(self, update: dict[str, Any]) -> None:
        """Attempts until the update is handled or set aside."""
        for _ in range(MAX_ATTEMPTS):
            if not await self.attempt():
                break
        async with self.sessions() as session:
            row = await session.get(TelegramUpdate, update["update_id"])
            assert row is not None and row.processed_at is not None, "the update was neither handled nor set aside"

    async def handle(self, update: dict[str, Any], *, after: timedelta = timedelta(0)) -> None:
        await self.store(update, after=after)
        await self.finish(update)


@pytest.fixture
def stored(session_factory: async_sessionmaker[AsyncSession], clock: FakeClock, dp: Dispatcher, bot: Bot) -> Processing:
    return Processing(session_factory, clock, dp, bot)


@asynccontextmanager
async def table_away(session: AsyncSession, table: str) -> AsyncIterator[None]:
    """The database refuses every statement on `table` meanwhile (a real error from the real database)."""
    await session.exec(text(f"ALTER TABLE {table} RENAME TO {table}_away"))  # type: ignore[call-overload]
    await session.commit()
    try:
        yield
    finally:
        await session.exec(text(f"ALTER TABLE {table}_away RENAME TO {table}"))  # type: ignore[call-overload]
        await session.commit()


def apologies(tg: FakeTelegram, chat_id: int, language: str) -> int:
    """How often the person was told sorry, in a message or in an answer to their tap."""
    apology = t(APOLOGY, language)
    return tg.texts(chat_id).count(apology) + tg.alerts().count(apology)


async def drain_chat_outbox(session_factory, tg: FakeTelegram, bot: Bot, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """What the chat sender delivers from the outbox, with time enough for its pacing."""
    sender = ChatSender(session_factory, TelegramNotifier(bot), clock)
    for _ in range(10):
        await sender.run_cycle()
        clock.advance(timedelta(seconds=1))


def numbers_in(texts: list[str]) -> int:
    return sum("120" in text and "110" in text and "119" in text for text in texts)


async def incidents(session: AsyncSession) -> list[Incident]:
    return list((await session.exec(select(Incident).execution_options(populate_existing=True))).all())


# A late SOS tap


async def test_a_late_sos_tap_still_opens_the_emergency(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str
) -> None:
    await volunteer_person.send("/visits")
    tap = volunteer_person.tap("🆘")
    await stored.handle(tap, after=LATE)  # answerCallbackQuery is refused: "query is too old"
    assert tg.refused("answerCallbackQuery")
    [incident] = await incidents(session)
    assert (incident.elder_id, incident.visit_id, incident.status) == (world.elder.id, world.visit.id, "open")
    texts = tg.texts(VOLUNTEER_TG)
    assert numbers_in(texts) == 1 and "陈女儿 (女儿) +8613900000001" in texts[-1]


async def test_a_late_tap_on_the_elder_of_sos_opens_the_emergency_and_numbers_go_out_once(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession
) -> None:
    await volunteer_person.send("/sos")
    assert numbers_in(tg.texts(VOLUNTEER_TG)) == 1  # at once, before choosing the elder
    await stored.handle(volunteer_person.tap("陈<奶奶>"), after=LATE)
    assert len(await incidents(session)) == 1
    assert numbers_in(tg.texts(VOLUNTEER_TG)) == 1  # not a second time with the contacts
    assert "陈女儿" in tg.last_text(VOLUNTEER_TG)


# An urgent visit outcome or an urgent problem through one hiccup


async def final_urgent_tap(person: Person) -> dict[str, Any]:
    """The volunteer confirms the first visit: at home, and the elder needs help now (the last tap not yet sent)."""
    language = language_of(person)
    await open_visit(person)
    await person.press(t(MODES["home"], language))
    return person.tap(t(OUTCOMES["urgent"], language))


@pytest.mark.parametrize("hiccup", ["answerCallbackQuery", "editMessageText", "sendMessage"])
async def test_an_urgent_visit_outcome_keeps_its_emergency_through_one_hiccup(
    world: World,
    volunteer_person: Person,
    tg: FakeTelegram,
    stored: Processing,
    session: AsyncSession,
    session_factory,  # type: ignore[no-untyped-def]
    bot: Bot,
    clock: FakeClock,
    hiccup: str,
) -> None:
    tap = await final_urgent_tap(volunteer_person)
    tg.fail(hiccup, server_error(502))
    await stored.handle(tap)
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and (visit.status, visit.outcome) == (VisitStatus.DONE, VisitOutcome.URGENT)
    [incident] = await incidents(session)
    assert incident.visit_id == world.visit.id
    await drain_chat_outbox(session_factory, tg, bot, clock)  # a message Telegram refused went through the outbox
    texts = tg.texts(VOLUNTEER_TG)
    assert numbers_in(texts) == 1 and sum("陈女儿" in m for m in texts) == 1


async def test_an_urgent_confirmation_and_its_incident_are_one_transaction(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str
) -> None:
    tap = await final_urgent_tap(volunteer_person)
    async with table_away(session, "incidents"):
        await stored.handle(tap)  # the incident cannot be written: so the confirmation is not either
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and visit.status == VisitStatus.PLANNED
    assert apologies(tg, VOLUNTEER_TG, language) == 1

    await volunteer_person.press_data(tap["callback_query"]["data"], tap["callback_query"]["message"])  # again
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and visit.status == VisitStatus.DONE
    assert [i.visit_id for i in await incidents(session)] == [world.visit.id]


async def urgent_problem_tap(person: Person) -> dict[str, Any]:
    language = language_of(person)
    await person.send("/problem")
    await person.press("陈<奶奶>")
    await person.press(t("Health", language))
    await person.send("摔倒了，起不来")
    return person.tap(t("Yes, urgent", language))


@pytest.mark.parametrize("hiccup", ["answerCallbackQuery", "editMessageText", "sendMessage"])
async def test_an_urgent_problem_keeps_its_emergency_through_one_hiccup(
    world: World,
    volunteer_person: Person,
    tg: FakeTelegram,
    stored: Processing,
    session: AsyncSession,
    session_factory,  # type: ignore[no-untyped-def]
    bot: Bot,
    clock: FakeClock,
    hiccup: str,
) -> None:
    tap = await urgent_problem_tap(volunteer_person)
    tg.fail(hiccup, server_error(503))
    await stored.handle(tap)
    [problem] = (await session.exec(select(Problem))).all()
    [incident] = await incidents(session)
    assert problem.urgent and incident.problem_id == problem.id
    await drain_chat_outbox(session_factory, tg, bot, clock)
    texts = tg.texts(VOLUNTEER_TG)
    assert numbers_in(texts) == 1 and sum("陈女儿" in m for m in texts) == 1


async def test_an_urgent_problem_and_its_incident_are_one_transaction(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession
) -> None:
    tap = await urgent_problem_tap(volunteer_person)
    await stored.store(tap)
    async with table_away(session, "incidents"):
        assert await stored.attempt() == 1  # fails: the incident cannot be written
    assert (await session.exec(select(Problem))).all() == []  # so no urgent problem is kept without it
    await stored.finish(tap)  # the retry finds the report still in progress and files it
    [problem] = (await session.exec(select(Problem))).all()
    assert [i.problem_id for i in await incidents(session)] == [problem.id]


# Other writes: the effect first, the courtesy last


async def test_a_late_acknowledge_tap_still_acknowledges(
    world: World, volunteer_person: Person, coordinator_person: Person, tg: FakeTelegram, stored: Processing,
    session: AsyncSession, session_factory, bot: Bot, clock: FakeClock, language: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    world.coordinator.language = language
    session.add(world.coordinator)
    await session.commit()
    await volunteer_person.send("/visits")
    await volunteer_person.press("🆘")
    await drain_chat_outbox(session_factory, tg, bot, clock)
    notice = tg.chat(COORDINATOR_TG)[0]
    await stored.handle(coordinator_person.tap(ACKNOWLEDGE[language]), after=LATE)
    [incident] = await incidents(session)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    acknowledged = t("Emergency #{id} acknowledged. Thank you.", language).format(id=incident.id)
    assert tg.last_text(COORDINATOR_TG) == acknowledged
    assert "reply_markup" not in tg.messages[notice["message_id"]]  # the button is gone from the notice
    # The same tap again from the notice as it was (a double tap): already acknowledged, the unchanged notice is fine.
    data = IncidentCb(action=IncidentAction.ACK, incident_id=incident.id).pack()  # type: ignore[arg-type]
    await stored.handle(coordinator_person.tap_data(data, notice))
    assert tg.last_text(COORDINATOR_TG) == t("Emergency #{id} was already acknowledged.", language).format(
        id=incident.id
    )


async def start_handling_record(person: Person) -> None:
    language = language_of(person)
    await person.send("/sos")
    await person.press("陈<奶奶>")
    await person.press(t("Record the handling", language))
    await person.send("摔倒")
    await person.send("打了120")


async def test_a_handling_record_survives_a_failed_first_attempt(
    world: World, volunteer_person: Person, stored: Processing, session: AsyncSession
) -> None:
    await start_handling_record(volunteer_person)
    last = volunteer_person.compose("已送医院")
    await stored.store(last)
    async with table_away(session, "incident_notes"):
        assert await stored.attempt() == 1  # the database refuses once
    await stored.finish(last)
    [note] = (await session.exec(select(IncidentNote))).all()
    assert (note.what_happened, note.actions_taken, note.outcome) == ("摔倒", "打了120", "已送医院")


async def test_a_handling_record_is_saved_once_though_the_thanks_fails(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession
) -> None:
    await start_handling_record(volunteer_person)
    tg.fail("sendMessage", server_error(502))
    await stored.handle(volunteer_person.compose("已送医院"))
    assert len((await session.exec(select(IncidentNote))).all()) == 1


async def test_a_note_survives_a_failed_first_attempt_and_is_saved_once(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str
) -> None:
    await confirm(volunteer_person)
    await volunteer_person.press(t("Add a note", language))
    note = volunteer_person.compose("老人精神很好")
    await stored.store(note)
    async with table_away(session, "visits"):  # the database refuses once
        assert await stored.attempt() == 1
    tg.fail("sendMessage", server_error(502))  # and then the thanks fails
    await stored.finish(note)
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and visit.note == "老人精神很好"


async def test_linking_counts_though_the_welcome_fails(
    world: World, stranger: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, clock: FakeClock
) -> None:
    newcomer = await make_volunteer(session, clock, communities=[world.areas["community"]], name="赵新人")
    token = await create_invitation(session, clock=clock, created_by="cli", volunteer_id=newcomer.id)
    await session.commit()
    start = stranger.compose(f"/start {token}")
    start["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    tg.fail("sendMessage", server_error(502))
    await stored.handle(start)
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id == STRANGER_TG
    assert tg.texts(STRANGER_TG) == []  # not told "already used" by a retry of its own link


async def test_a_blocked_volunteer_still_confirms(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str
) -> None:
    """The volunteer blocks the bot just after the last tap: Telegram refuses everything to them, the tap counts."""
    await open_visit(volunteer_person)
    await volunteer_person.press(t(MODES["home"], language))
    tap = volunteer_person.tap(t(OUTCOMES["well"], language))  # all fine: the last tap
    tg.block(VOLUNTEER_TG)
    await stored.handle(tap)
    visit = await session.get(Visit, world.visit.id, populate_existing=True)
    assert visit is not None and visit.status == VisitStatus.DONE


async def test_a_flood_429_on_the_answer_does_not_stop_the_sos(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession,
    session_factory, bot: Bot, clock: FakeClock, language: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    await volunteer_person.send("/visits")
    tap = volunteer_person.tap("🆘")
    tg.fail("answerCallbackQuery", flood(5))  # and Telegram holds every call back for 5 s
    await stored.handle(tap)
    assert len(await incidents(session)) == 1
    await drain_chat_outbox(session_factory, tg, bot, clock)  # the numbers and contacts, once the flood has passed
    assert numbers_in(tg.texts(VOLUNTEER_TG)) == 1 and "陈女儿" in tg.last_text(VOLUNTEER_TG)


# Viewers may see, not act


async def test_a_viewer_is_told_without_a_button_and_cannot_acknowledge(
    world: World, volunteer_person: Person, tg: FakeTelegram, session: AsyncSession, clock: FakeClock,
    deliver, language: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    await make_coordinator(
        session, clock, area=world.areas["street"], name="钱观察", role=CoordinatorRole.VIEWER,
        telegram_user_id=VIEWER_TG, telegram_chat_id=VIEWER_TG, language=language,
    )  # fmt: skip
    await session.commit()
    await volunteer_person.send("/visits")
    await volunteer_person.press("🆘")
    [incident] = await incidents(session)
    notices = (
        await session.exec(select(ChatOutboxMessage).where(col(ChatOutboxMessage.recipient) == str(VIEWER_TG)))
    ).all()
    expected = VIEWER_NOTICE[language].format(id=incident.id, name="陈&lt;奶奶&gt;", address="科技园路1号 &amp; 2栋")
    assert [(n.text, n.buttons) for n in notices] == [(f"🆘 {expected}", None)]

    viewer = Person(tg, VIEWER_TG, "en" if language == "en" else "zh-hans", deliver)
    await viewer.press_data(IncidentCb(action=IncidentAction.ACK, incident_id=incident.id).pack())  # type: ignore[arg-type]
    await session.refresh(incident)
    assert incident.status == IncidentStatus.OPEN and incident.acknowledged_by is None
    assert tg.alerts()[-1] == t(VIEWER_CANNOT_ACK, language)
    assert tg.texts(VIEWER_TG) == []


# Unforeseen errors: one neutral apology, the update retried or set aside with a log line


async def test_an_unforeseen_failure_gets_one_apology_and_log_lines_without_personal_data(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await volunteer_person.send("/problem")
    await volunteer_person.press("陈<奶奶>")
    await volunteer_person.press(t("Health", language))
    await volunteer_person.send("陈奶奶摔倒在科技园路1号")
    tap = volunteer_person.tap(t("No", language))
    with caplog.at_level(logging.INFO):
        async with table_away(session, "problems"):
            await stored.handle(tap)
    assert apologies(tg, VOLUNTEER_TG, language) == 1  # once, not once per attempt
    row = await session.get(TelegramUpdate, tap["update_id"], populate_existing=True)
    assert row is not None and row.attempts == MAX_ATTEMPTS and row.payload is None  # set aside
    lines = [r.getMessage() for r in caplog.records if f"update {tap['update_id']} " in r.getMessage()]
    assert len(lines) == MAX_ATTEMPTS and "set aside" in lines[-1]
    assert all("OperationalError" in line or "ProgrammingError" in line for line in lines), lines
    assert not [word for word in ("陈奶奶", "科技园路", "摔倒", "+86139") if word in caplog.text]


async def test_a_failure_a_retry_cures_gets_no_apology(
    world: World, volunteer_person: Person, tg: FakeTelegram, stored: Processing, session: AsyncSession, language: str
) -> None:
    update = volunteer_person.compose("/visits")
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
    await stored.store(update)
    async with table_away(session, "visits"):
        await stored.attempt()
    await stored.finish(update)
    assert apologies(tg, VOLUNTEER_TG, language) == 0
    assert t("Your visits", language) in tg.last_text(VOLUNTEER_TG)


@pytest.mark.parametrize("table", ["visits", "volunteers"])  # in the handler, or before it: who is this?
async def test_an_unforeseen_failure_fed_directly_apologises_once_and_raises(
    world: World, volunteer_person: Person, tg: FakeTelegram, session: AsyncSession, language: str, table: str
) -> None:
    async with table_away(session, table):
        with pytest.raises(Exception, match=table):
            await volunteer_person.send("/visits")
    assert tg.texts(VOLUNTEER_TG) == [t(APOLOGY, language)]
