"""The fast update path keeps its guarantees: webhook requests that race share commits but each update is stored
exactly once; a crash after storing, or after handling but before the update is marked done, loses nothing and
confirms a visit once; SQLite writers in one process take turns instead of failing."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.callbacks import ConfirmCb
from carevisit.bot.setup import build_dispatcher
from carevisit.bot.updates import SECRET_HEADER, WEBHOOK_PATH, UpdateProcessor, store_updates, webhook_handler
from carevisit.care.clock import FakeClock
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import AuditEntry, TelegramUpdate, Visit
from tests.bot.conftest import SHANGHAI, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import WEBHOOK_SECRET, FakeTelegram, Person, visits_update

SECRET = WEBHOOK_SECRET


def confirm_update(update_id: int, person: Person, visit_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """The last tap of the confirm flow: at home, the elder is well, every checklist answer fine."""
    data = ConfirmCb(visit_id=visit_id, mode="home", outcome="well", answers="ooooo").pack()
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": person.user,
            "chat_instance": "ci",
            "message": message,
            "data": data,
        },
    }


@pytest.fixture
async def webhook(session_factory, clock: FakeClock):  # type: ignore[no-untyped-def]
    wake = asyncio.Event()
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook_handler(session_factory, clock=clock, secret=SECRET, wake=wake))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def post_all(server: TestServer, updates: list[dict[str, Any]]) -> list[int]:
    """Every update POSTed at the same time, as Telegram does with several pending updates and retries."""
    async with aiohttp.ClientSession() as http:

        async def post(update: dict[str, Any]) -> int:
            url = server.make_url(WEBHOOK_PATH)
            async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
                return response.status

        return list(await asyncio.gather(*(post(update) for update in updates)))


async def test_racing_webhook_requests_store_every_update_exactly_once(
    world: World,
    webhook,
    volunteer_person: Person,
    tg: FakeTelegram,
    session_factory,
    clock: FakeClock,
    dp: Dispatcher,
    bot: Bot,
    session: AsyncSession,
) -> None:  # type: ignore[no-untyped-def]
    updates = [visits_update(7000 + n, volunteer_person) for n in range(25)]
    statuses = await post_all(webhook, updates + updates[:10])  # ten of them redelivered while the first is racing
    assert statuses == [200] * 35
    stored = (await session.exec(select(TelegramUpdate.update_id).order_by(col(TelegramUpdate.update_id)))).all()
    assert list(stored) == [7000 + n for n in range(25)]

    processor = UpdateProcessor(session_factory, dp, bot, clock, asyncio.Event())
    assert await processor.run_cycle() == 25
    assert await processor.run_cycle() == 0
    assert len(tg.texts(VOLUNTEER_TG)) == 25  # one visit list per update, none twice


async def test_a_batch_with_a_repeat_inside_stores_it_once(session_factory, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    first = {"update_id": 7100, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}}
    again = dict(first)
    assert await store_updates(session_factory, clock=clock, payloads=[first, again]) == [True, False]
    assert await store_updates(session_factory, clock=clock, payloads=[again]) == [False]


async def _shown_visits(volunteer_person: Person, tg: FakeTelegram) -> dict[str, Any]:
    """The volunteer opens their visit list (its message is what the confirm buttons edit)."""
    await volunteer_person.send("/visits")
    return tg.chat(VOLUNTEER_TG)[-1]


async def _confirmations(session: AsyncSession, visit_id: int) -> int:
    statement = select(func.count()).where(
        col(AuditEntry.action) == "visit.confirm", col(AuditEntry.entity_id) == visit_id
    )
    return int((await session.exec(statement)).one())


async def test_a_crash_after_storing_loses_nothing(
    world: World,
    webhook,
    volunteer_person: Person,
    tg: FakeTelegram,
    session_factory,
    clock: FakeClock,
    bot: Bot,
    session: AsyncSession,
    language: str,
) -> None:  # type: ignore[no-untyped-def]
    message = await _shown_visits(volunteer_person, tg)
    assert world.visit.id is not None
    assert await post_all(webhook, [confirm_update(7200, volunteer_person, world.visit.id, message)]) == [200]
    # The process dies here: Telegram has its 200, nothing was handled. After the restart, a new dispatcher and
    # processor find the update in the table.
    restarted = build_dispatcher(sessions=session_factory, clock=clock, zone=SHANGHAI)
    assert await UpdateProcessor(session_factory, restarted, bot, clock, asyncio.Event()).run_cycle() == 1
    await session.refresh(world.visit)
    assert world.visit.status == VisitStatus.DONE
    assert t("Visit to {name} confirmed. Thank you!", language).split("{name}")[0] in tg.last_text(VOLUNTEER_TG)


class CrashBeforeMarking(UpdateProcessor):
    """The process dies after the handler committed, before the update was marked done."""

    async def _mark_done(self, update_ids: list[int]) -> list[None]:
        raise RuntimeError("killed")


async def test_a_crash_before_the_done_mark_handles_the_update_again_and_confirms_once(
    world: World,
    webhook,
    volunteer_person: Person,
    tg: FakeTelegram,
    session_factory,
    clock: FakeClock,
    dp: Dispatcher,
    bot: Bot,
    session: AsyncSession,
    language: str,
) -> None:  # type: ignore[no-untyped-def]
    message = await _shown_visits(volunteer_person, tg)
    assert world.visit.id is not None
    await post_all(webhook, [confirm_update(7300, volunteer_person, world.visit.id, message)])
    with pytest.raises(RuntimeError):
        await CrashBeforeMarking(session_factory, dp, bot, clock, asyncio.Event()).run_cycle()
    assert (await session.get(TelegramUpdate, 7300)).processed_at is None  # type: ignore[union-attr]

    restarted = build_dispatcher(sessions=session_factory, clock=clock, zone=SHANGHAI)
    assert await UpdateProcessor(session_factory, restarted, bot, clock, asyncio.Event()).run_cycle() == 1
    assert await _confirmations(session, world.visit.id) == 1  # confirmed once, not twice
    expected = t("This visit to {name} was already confirmed.", language).split("{name}")[0]
    assert expected in tg.last_text(VOLUNTEER_TG)
    session.expire_all()
    assert (await session.get(TelegramUpdate, 7300)).processed_at is not None  # type: ignore[union-attr]


async def test_concurrent_writers_all_commit(world: World, session_factory, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    """Many sessions writing at once (on SQLite: one writer at a time) all get through, none 'database is locked'."""

    async def touch(n: int) -> None:
        async with session_factory() as session:
            visit = await session.get(Visit, world.visit.id)
            assert visit is not None
            visit.note = f"note {n}"
            session.add(visit)
            await asyncio.sleep(0)  # let the others start their transactions too
            await session.commit()

    await asyncio.gather(*(touch(n) for n in range(30)))
    async with session_factory() as session:
        visit = await session.get(Visit, world.visit.id)
        assert visit is not None and visit.note is not None and visit.note.startswith("note ")


async def test_when_the_update_cannot_be_stored_telegram_is_told_to_send_it_again(
    webhook, volunteer_person: Person, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    """No 200 for an update that is not committed: the whole shared batch fails, each request answers 500."""
    await session.exec(text("ALTER TABLE telegram_updates RENAME TO telegram_updates_away"))  # type: ignore[call-overload]
    await session.commit()
    try:
        updates = [visits_update(7400 + n, volunteer_person) for n in range(5)]
        assert await post_all(webhook, updates) == [500] * 5
    finally:
        await session.exec(text("ALTER TABLE telegram_updates_away RENAME TO telegram_updates"))  # type: ignore[call-overload]
        await session.commit()
