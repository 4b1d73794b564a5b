"""The bot under test: the real aiogram Bot over HTTP to a fake Bot API server, the real dispatcher, a migrated
database (SQLite, and PostgreSQL when configured), a fake clock; and a small world of people to use it."""

from __future__ import annotations

import gettext
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.setup import LOCALES_DIR, build_dispatcher, make_bot
from carevisit.care.clock import FakeClock
from carevisit.storage.models import Area, Coordinator, Elder, EmergencyContact, Visit, Volunteer
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.factories import make_area_tree, make_contact, make_coordinator, make_elder, make_visit, make_volunteer

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGUAGES = ["zh_CN", "en"]


# What coordinators read on notices, worded by carevisit.fieldwork.texts (not the bot's catalogue), by language.
ACKNOWLEDGE = {"zh_CN": "确认处理", "en": "Acknowledge"}
VIEWER_NOTICE = {
    "zh_CN": "新的紧急事件 #{id}：{name}（{address}）。特此告知：协调员正在处理。",
    "en": "New emergency #{id} for {name} ({address}). For your information: the coordinators are handling it.",
}


def t(msgid: str, language: str) -> str:
    """What a user of `language` reads for `msgid`, straight from the compiled catalogue."""
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.mo").open("rb") as catalogue:
        return gettext.GNUTranslations(catalogue).gettext(msgid)


@pytest.fixture
async def tg(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(clock=clock)  # the test's clock: a callback query ages as the test moves time
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = make_bot(TOKEN, api_base=tg.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
def dp(session_factory, clock: FakeClock) -> Dispatcher:  # type: ignore[no-untyped-def]
    return build_dispatcher(
        sessions=session_factory, clock=clock, zone=SHANGHAI, epidemic_instructions="戴口罩，保持距离"
    )


@pytest.fixture
def deliver(dp: Dispatcher, bot: Bot) -> Callable[[dict[str, Any]], Any]:
    async def feed(update: dict[str, Any]) -> None:
        await dp.feed_update(bot, Update.model_validate(update, context={"bot": bot}))

    return feed


@dataclass
class World:
    areas: dict[str, Area]
    volunteer: Volunteer
    other_volunteer: Volunteer
    coordinator: Coordinator
    elder: Elder
    elder2: Elder
    contacts: list[EmergencyContact]
    visit: Visit
    visit2: Visit
    other_visit: Visit  # assigned to the other volunteer


VOLUNTEER_TG, OTHER_TG, COORDINATOR_TG, STRANGER_TG = 1001, 1002, 2001, 9999


@pytest.fixture
async def world(session: AsyncSession, clock: FakeClock) -> World:
    areas = await make_area_tree(session)
    community = areas["community"]
    volunteer = await make_volunteer(
        session,
        clock,
        communities=[community],
        name="王志愿",
        telegram_user_id=VOLUNTEER_TG,
        telegram_chat_id=VOLUNTEER_TG,
    )
    other = await make_volunteer(
        session, clock, communities=[community], name="李志愿", telegram_user_id=OTHER_TG, telegram_chat_id=OTHER_TG
    )
    coordinator = await make_coordinator(
        session,
        clock,
        area=areas["street"],
        name="张主任",
        telegram_user_id=COORDINATOR_TG,
        telegram_chat_id=COORDINATOR_TG,
    )
    elder = await make_elder(session, clock, community=community, name="陈<奶奶>", address="科技园路1号 & 2栋")
    elder2 = await make_elder(session, clock, community=community, name="刘爷爷")
    contacts = [
        await make_contact(session, elder=elder, position=1, name="陈女儿", relation="女儿", phone="+8613900000001"),
        await make_contact(session, elder=elder, position=2, name="陈儿子", relation="儿子", phone="+8613900000002"),
    ]
    visit = await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id)
    visit2 = await make_visit(session, clock, elder=elder2, volunteer_id=volunteer.id)
    other_visit = await make_visit(session, clock, elder=elder2, slot=2, volunteer_id=other.id)
    await session.commit()
    return World(areas, volunteer, other, coordinator, elder, elder2, contacts, visit, visit2, other_visit)


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def volunteer_person(tg: FakeTelegram, deliver, language: str) -> Person:  # type: ignore[no-untyped-def]
    return Person(tg, VOLUNTEER_TG, "en" if language == "en" else "zh-hans", deliver)


@pytest.fixture
def other_person(tg: FakeTelegram, deliver) -> Person:  # type: ignore[no-untyped-def]
    return Person(tg, OTHER_TG, "zh-hans", deliver)


@pytest.fixture
def coordinator_person(tg: FakeTelegram, deliver, language: str) -> Person:  # type: ignore[no-untyped-def]
    return Person(tg, COORDINATOR_TG, "en" if language == "en" else "zh-hans", deliver)


@pytest.fixture
def stranger(tg: FakeTelegram, deliver, language: str) -> Person:  # type: ignore[no-untyped-def]
    return Person(tg, STRANGER_TG, "en" if language == "en" else "zh-hans", deliver)
