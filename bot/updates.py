"""Updates are stored before they are handled, then processed from the table; `update_id` drops repeats.

Webhook mode: the POST is stored and committed *before* Telegram gets its 200, so a crash after that loses
nothing (a crash before it makes Telegram send the update again). Long polling: each batch from getUpdates is
stored before the next offset confirms it to Telegram. A handler that fails is retried a few times, then the update
is set aside with its error.

Any number of processes may run the processor. Each claims whole chats (`telegram_chat_claims`, one row a chat,
taken with an atomic upsert): a chat's updates are handled by one process at a time, in update_id order, and a
claim left by a process that died expires after `CLAIM_LEASE` and is taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiohttp import web
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, func, select, update
from sqlmodel import delete as sql_delete
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.group_commit import GroupCommit
from carevisit.care.clock import Clock
from carevisit.storage.locks import process_name
from carevisit.storage.models import TelegramChatClaim, TelegramUpdate

log = logging.getLogger(__name__)
_UPDATES = TelegramUpdate.__table__  # type: ignore[attr-defined]
_CLAIMS = TelegramChatClaim.__table__  # type: ignore[attr-defined]
_MARK_DONE = (
    _UPDATES.update()
    .where(_UPDATES.c.update_id.in_(bindparam("done_ids", expanding=True)))
    .values(processed_at=bindparam("processed_at"), payload=None, error=None, attempts=_UPDATES.c.attempts + 1)
)
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_ATTEMPTS = 3
KEEP_PROCESSED = timedelta(days=3)
CLAIM_LEASE = timedelta(seconds=60)  # a claim outlives any one handler; renewed while its cycle runs


async def store_updates(
    sessions: async_sessionmaker[AsyncSession], *, clock: Clock, payloads: list[dict[str, Any]]
) -> list[bool]:
    """Keep updates for processing, all in one INSERT and one commit; per payload, False if its update_id was
    stored before (a redelivery) or earlier in the same list."""
    rows: dict[int, dict[str, Any]] = {}
    now = clock.now()
    for payload in payloads:
        update_id = int(payload["update_id"])
        rows.setdefault(update_id, {"update_id": update_id, "chat_id": chat_of(payload), "payload": payload})
    if not rows:
        return []
    async with sessions() as session:
        table = TelegramUpdate.__table__  # type: ignore[attr-defined]
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        connection = await session.connection()
        result = await connection.execute(
            insert(table)
            .values([{**row, "received_at": now, "attempts": 0} for row in rows.values()])
            .on_conflict_do_nothing(index_elements=["update_id"])  # the primary key: a repeat is not stored again
            .returning(table.c.update_id)
        )
        new = set(result.scalars().all())
        await session.commit()
    answers = []
    for payload in payloads:
        update_id = int(payload["update_id"])
        answers.append(update_id in new)
        new.discard(update_id)  # a second copy in the same batch is a repeat too
    return answers


async def store_update(sessions: async_sessionmaker[AsyncSession], *, clock: Clock, payload: dict[str, Any]) -> bool:
    """Keep one update for processing; False if this update_id was seen before (a redelivery)."""
    return (await store_updates(sessions, clock=clock, payloads=[payload]))[0]


class UpdateInbox:
    """Stores webhook updates with group commit: concurrent requests share one INSERT and commit, and each request
    returns only once its own update is committed (so Telegram's 200 still means "durably stored")."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock
        self._commits: GroupCommit[dict[str, Any], bool] = GroupCommit(self._write)

    async def store(self, payload: dict[str, Any]) -> bool:
        return await self._commits.submit(payload)

    async def _write(self, payloads: list[dict[str, Any]]) -> list[bool]:
        return await store_updates(self.sessions, clock=self.clock, payloads=payloads)


def chat_of(payload: dict[str, Any]) -> int:
    """Whose conversation an update belongs to: updates of one chat are handled in order, chats in parallel."""
    for kind in ("message", "edited_message", "callback_query"):
        event = payload.get(kind)
        if isinstance(event, dict):
            sender = event.get("from") or event.get("chat") or {}
            return int(sender.get("id", 0))
    return 0


@dataclass(frozen=True, slots=True)
class Delivery:
    """The stored update a handler runs for, as its error path may ask about it (read only when it failed)."""

    sessions: async_sessionmaker[AsyncSession]
    update_id: int

    async def is_last_attempt(self) -> bool:
        """True when this attempt is the last before the update is set aside (the apology is said then)."""
        async with self.sessions() as session:
            statement = select(TelegramUpdate.attempts).where(col(TelegramUpdate.update_id) == self.update_id)
            attempts = (await session.exec(statement)).first()
        return attempts is None or attempts + 1 >= MAX_ATTEMPTS


def failure_kind(error: Exception) -> str:
    """What failed, for the log and the set-aside row: the error's kind, never its text, which can quote personal
    data (a failed INSERT's error lists its parameters: a description, a name). Telegram's descriptions name nobody."""
    return f"{type(error).__name__}: {error.message}" if isinstance(error, TelegramAPIError) else type(error).__name__


def _log_failure(update_id: int, attempts: int, error: Exception) -> None:
    """The update id, the error's kind and where it happened (the frames, which hold code, not data)."""
    what = failure_kind(error)
    where = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    if attempts >= MAX_ATTEMPTS:
        log.error("update %s set aside after %d attempts: %s\n%s", update_id, attempts, what, where)
    else:
        log.warning(
            "update %s failed (attempt %d of %d), to be retried: %s\n%s", update_id, attempts, MAX_ATTEMPTS, what, where
        )


@dataclass
class UpdateProcessor:
    sessions: async_sessionmaker[AsyncSession]
    dispatcher: Dispatcher
    bot: Bot
    clock: Clock
    wake: asyncio.Event
    parallel_chats: int = 8
    holder: str = field(default_factory=process_name)
    _finished: GroupCommit[int, None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._finished = GroupCommit(self._mark_done)

    async def run_cycle(self, limit: int = 200) -> int:
        """Claim chats with stored, unprocessed updates and handle each chat's updates in update_id order; chats
        another process is handling are left to it. Returns how many updates were handled."""
        chats = await self._claim_chats(limit)
        if not chats:
            return 0
        renewing = asyncio.create_task(self._renew_claims(chats))
        try:
            pending = await self._pending(chats, limit)
            gate = asyncio.Semaphore(self.parallel_chats)

            async def one_chat(updates: list[tuple[int, dict[str, Any]]]) -> None:
                async with gate:
                    for update_id, payload in updates:
                        await self._handle(update_id, payload)

            await asyncio.gather(*(one_chat(updates) for updates in pending.values()))
        finally:
            renewing.cancel()
            await self._release_claims(chats)
        return sum(len(updates) for updates in pending.values())

    async def _claim_chats(self, limit: int) -> list[int]:
        """The chats with waiting updates (oldest first) that this process now holds: one upsert takes every
        free or expired claim at once; a claim another live process holds is not returned."""
        now = self.clock.now()
        async with self.sessions() as session:
            held_by_others = select(TelegramChatClaim.chat_id).where(
                col(TelegramChatClaim.holder) != self.holder, col(TelegramChatClaim.expires_at) >= now
            )
            waiting = (
                await session.exec(
                    select(TelegramUpdate.chat_id)
                    .where(
                        col(TelegramUpdate.processed_at).is_(None),
                        col(TelegramUpdate.chat_id).not_in(held_by_others),  # leave them be: a cheaper no
                    )
                    .group_by(col(TelegramUpdate.chat_id))
                    .order_by(func.min(TelegramUpdate.update_id))
                    .limit(limit)
                )
            ).all()
            if not waiting:
                return []
            insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            statement = insert(_CLAIMS).values(
                [{"chat_id": chat or 0, "holder": self.holder, "expires_at": now + CLAIM_LEASE} for chat in waiting]
            )
            statement = statement.on_conflict_do_update(
                index_elements=["chat_id"],
                set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
                where=(_CLAIMS.c.holder == self.holder) | (_CLAIMS.c.expires_at < now),
            ).returning(_CLAIMS.c.chat_id)
            connection = await session.connection()
            claimed = list((await connection.execute(statement)).scalars().all())
            await session.commit()
        return claimed

    async def _pending(self, chats: list[int], limit: int) -> dict[int, list[tuple[int, dict[str, Any]]]]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(TelegramUpdate.update_id, TelegramUpdate.chat_id, TelegramUpdate.payload)
                .where(col(TelegramUpdate.processed_at).is_(None), col(TelegramUpdate.chat_id).in_(chats))
                .order_by(col(TelegramUpdate.update_id))
                .limit(limit)
            )
            by_chat: dict[int, list[tuple[int, dict[str, Any]]]] = {}
            for update_id, chat_id, payload in rows.all():
                by_chat.setdefault(chat_id or 0, []).append((update_id, dict(payload or {})))
        return by_chat

    async def _renew_claims(self, chats: list[int]) -> None:
        """While a cycle runs, keep its claims from expiring (a slow handler must not let another process in)."""
        while True:
            await asyncio.sleep(CLAIM_LEASE.total_seconds() / 3)
            async with self.sessions() as session:
                await session.exec(
                    update(TelegramChatClaim)
                    .where(col(TelegramChatClaim.holder) == self.holder, col(TelegramChatClaim.chat_id).in_(chats))
                    .values(expires_at=self.clock.now() + CLAIM_LEASE)
                )
                await session.commit()

    async def _release_claims(self, chats: list[int]) -> None:
        try:
            async with self.sessions() as session:
                await session.exec(
                    sql_delete(TelegramChatClaim).where(
                        col(TelegramChatClaim.holder) == self.holder, col(TelegramChatClaim.chat_id).in_(chats)
                    )
                )
                await session.commit()
        except Exception:  # the claims expire on their own
            log.exception("could not release %d chat claims", len(chats))

    async def _handle(self, update_id: int, payload: dict[str, Any]) -> None:
        failure: Exception | None = None
        async with self.sessions() as session:  # the handlers get this session (the session middleware reuses it)
            try:
                update = Update.model_validate(payload, context={"bot": self.bot})
                delivery = Delivery(self.sessions, update_id)
                await self.dispatcher.feed_update(self.bot, update, session=session, delivery=delivery)
            except Exception as exc:  # a bug in one handler must not stop every update after it
                failure = exc
            await session.rollback()  # whatever a handler left uncommitted is not kept
        if failure is not None:
            attempts = await self._failed(update_id, failure_kind(failure)[:500])
            _log_failure(update_id, attempts, failure)
            return
        # Done: marked in a batch with the other chats' finished updates (one UPDATE and commit for them all). A
        # crash before that mark handles the update again, which the handlers take calmly: confirming is a
        # conditional update, so a second run shows "already confirmed" and changes nothing.
        await self._finished.submit(update_id)
        self.handled(update_id)

    async def _mark_done(self, update_ids: list[int]) -> list[None]:
        """Done updates keep no message content, only the id and when."""
        async with self.sessions() as session:
            connection = await session.connection()  # a plain table update: no objects to keep in step
            await connection.execute(_MARK_DONE, {"processed_at": self.clock.now(), "done_ids": update_ids})
            await session.commit()
        return [None] * len(update_ids)

    def handled(self, update_id: int) -> None:
        """A hook for observers (the benchmark); nothing to do by default."""

    async def _failed(self, update_id: int, error: str) -> int:
        """Count the failed attempt; returns how many there have been."""
        async with self.sessions() as session:
            row = await session.get(TelegramUpdate, update_id)
            assert row is not None
            row.attempts += 1
            row.error = error
            if row.attempts >= MAX_ATTEMPTS:  # given up on: set aside with its error
                row.processed_at, row.payload = self.clock.now(), None
            session.add(row)
            await session.commit()
            return row.attempts

    async def prune(self, *, keep: timedelta = KEEP_PROCESSED) -> int:
        """Forget handled updates older than `keep`: Telegram redelivers within a day, so older ids can't repeat."""
        async with self.sessions() as session:
            result = await session.exec(
                sql_delete(TelegramUpdate).where(col(TelegramUpdate.processed_at) < self.clock.now() - keep)
            )
            await session.commit()
            return int(result.rowcount or 0)

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        last_prune = None
        while not stop.is_set():
            if last_prune is None or self.clock.now() - last_prune > timedelta(hours=1):
                with contextlib.suppress(Exception):
                    await self.prune()
                last_prune = self.clock.now()
            try:
                handled = await self.run_cycle()
            except Exception:
                log.exception("update processor cycle failed")
                handled = 0
            if handled:
                continue
            self.wake.clear()
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()


def webhook_handler(
    sessions: async_sessionmaker[AsyncSession], *, clock: Clock, secret: str, wake: asyncio.Event
) -> Any:
    """An aiohttp handler for Telegram's webhook POSTs: check the secret, store, then answer 200. A database
    error answers 500, so Telegram sends the update again."""
    inbox = UpdateInbox(sessions, clock=clock)

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401, text="unauthorized")
        try:
            payload = await request.json()
            int(payload["update_id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="not a Telegram update")
        await inbox.store(payload)  # committed (alone or with concurrent requests); a repeat is answered 200 too
        wake.set()
        return web.Response(text="ok")

    return handle


async def poll_into_store(
    bot: Bot,
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock,
    wake: asyncio.Event,
    stop: asyncio.Event,
    poll_seconds: int = 25,
    retry_seconds: float = 5.0,
) -> None:
    """Long polling: fetch updates and store each before asking for the next offset (which confirms them). A batch
    that can't be stored is not confirmed: Telegram keeps it and the next poll fetches it again."""
    offset: int | None = None
    started = False  # the stored offset is read inside the loop: a database away at start must not end polling
    while not stop.is_set():
        if not started:
            try:
                offset, started = await _stored_offset(sessions), True
            except Exception as error:
                log.error("reading the polling offset failed: %s; trying again shortly", failure_kind(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
                continue
        try:
            updates = await bot(
                GetUpdates(offset=offset, timeout=poll_seconds, allowed_updates=["message", "callback_query"])
            )
        except Exception:
            log.exception("getUpdates failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
            continue
        if not updates:
            continue
        payloads = [update.model_dump(mode="json", exclude_none=True, by_alias=True) for update in updates]
        try:
            await store_updates(sessions, clock=clock, payloads=payloads)  # the whole batch in one commit
        except Exception as error:  # the database is away: keep polling, confirm nothing
            log.error("storing %d polled update(s) failed: %s; fetching them again", len(payloads), failure_kind(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
            continue
        offset = max(update.update_id for update in updates) + 1
        wake.set()


async def _stored_offset(sessions: async_sessionmaker[AsyncSession]) -> int | None:
    """The offset that confirms every update stored so far; None (Telegram's oldest) if none is."""
    async with sessions() as session:
        last = (await session.exec(select(func.max(TelegramUpdate.update_id)))).one()
    return (last + 1) if last is not None else None
