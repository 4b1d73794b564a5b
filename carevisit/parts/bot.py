"""The Telegram bot as a part of `carevisit run`: webhook (when CAREVISIT_PUBLIC_URL is set) or long polling,
the stored-update processor, and the rate-limited chat sender that drains `chat_outbox`.

Every worker process runs the update processor (it claims chats, so each chat's updates are handled once, in
order). What Telegram allows only once per bot runs in one process, the holder of the `telegram` lock: long
polling (a second getUpdates is refused) and the chat sender (Telegram's limits are per bot, so one pacer),
and registering the webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.bot.chat_sender import ChatSender
from carevisit.bot.notifier import TelegramNotifier
from carevisit.bot.setup import build_dispatcher, make_bot, make_storage
from carevisit.bot.updates import WEBHOOK_PATH, UpdateProcessor, poll_into_store, webhook_handler
from carevisit.dashboard.volunteer_views import BOT_USERNAME
from carevisit.policies import escalation_config
from carevisit.storage.locks import Leadership, leader_lock, process_name

log = logging.getLogger(__name__)
LOCK_NAME = "telegram"
# SQLite: a crashed holder's lease is taken over after three missed renewals (PostgreSQL's lock goes with the
# holder's connection at once).
LEASE = timedelta(seconds=90)


def webhook_secret(rt: Runtime) -> str | None:
    """CAREVISIT_TELEGRAM_WEBHOOK_SECRET, or one derived from CAREVISIT_SECRET_KEY (Telegram allows [A-Za-z0-9_-])."""
    settings = rt.settings
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
        return hmac.new(key, b"telegram-webhook", hashlib.sha256).hexdigest()
    return None


class _Tasks:
    """Background loops sharing one stop signal, stopped together."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.create_task(work))

    async def close(self) -> None:
        self.stop.set()
        if self._tasks:
            # Polling may sit in a long getUpdates: give the loops a moment, then cancel what is left.
            _done, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks = []
        self.stop = asyncio.Event()


class BotPart:
    name = "telegram bot"

    def __init__(
        self, rt: Runtime, *, bot: Bot | None = None, poll_seconds: int = 25, leader_check_every: float = 30.0
    ) -> None:
        self.rt = rt
        self._bot = bot
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._work = _Tasks()  # every worker: the update processor
        self._duties = _Tasks()  # the lock holder only: polling, the chat sender
        self._storage: BaseStorage | None = None
        self._leadership: Leadership | None = None
        self._leader_check_every = leader_check_every
        settings = rt.settings
        self.webhook = settings.telegram_enabled and settings.public_url is not None

    @property
    def enabled(self) -> bool:
        return self.rt.settings.telegram_token is not None or self._bot is not None

    @property
    def leading(self) -> bool:
        return self._leadership is not None and self._leadership.leading

    def add_routes(self, app: web.Application) -> None:
        app[BOT_USERNAME] = self.bot_username  # the dashboard's invitation links
        secret = webhook_secret(self.rt)
        if self.webhook and secret:
            app.router.add_post(
                WEBHOOK_PATH, webhook_handler(self.rt.sessions, clock=self.rt.clock, secret=secret, wake=self._wake)
            )

    async def start(self) -> None:
        if not self.enabled:
            log.warning(
                "NO TELEGRAM BOT: CAREVISIT_TELEGRAM_TOKEN is not set. Volunteers cannot use the bot, and chat "
                "messages (reminders, emergency updates) stay queued in chat_outbox until a token is configured."
            )
            return
        settings = self.rt.settings
        bot = self._the_bot()
        self._storage = make_storage(settings.redis_url, sessions=self.rt.sessions, clock=self.rt.clock)
        dp = build_dispatcher(
            sessions=self.rt.sessions,
            clock=self.rt.clock,
            zone=settings.zone,
            region=settings.default_region,
            language=settings.language,
            policy=escalation_config(settings).policy,
            epidemic_instructions=settings.epidemic_instructions,
            storage=self._storage,
            public_url=str(settings.public_url).rstrip("/") if settings.public_url else None,
            drill=self.rt.drill_emergencies,
        )
        processor = UpdateProcessor(self.rt.sessions, dp, bot, self.rt.clock, self._wake)
        self._work.spawn(processor.run(self._work.stop))
        lock = leader_lock(
            self.rt.engine,
            LOCK_NAME,
            now=self.rt.clock.now,
            holder=process_name(),
            ttl=LEASE,
        )
        self._leadership = Leadership(
            lock, on_gain=self._take_duties, on_loss=self._duties.close, every=self._leader_check_every
        )
        await self._leadership.start()

    async def _take_duties(self) -> None:
        """Only the lock holder talks to Telegram on the bot's behalf: the webhook or polling, and the sender."""
        settings, bot = self.rt.settings, self._the_bot()
        if self.webhook:
            url = str(settings.public_url).rstrip("/") + WEBHOOK_PATH
            try:
                await bot.set_webhook(
                    url, secret_token=webhook_secret(self.rt), allowed_updates=["message", "callback_query"]
                )
                log.info("telegram webhook set")
            except Exception:
                log.exception("could not set the telegram webhook; updates will not arrive until it is set")
        else:
            try:
                await bot.delete_webhook(drop_pending_updates=False)
            except Exception:
                log.exception("could not clear the telegram webhook before long polling")
            self._duties.spawn(
                poll_into_store(
                    bot,
                    self.rt.sessions,
                    clock=self.rt.clock,
                    wake=self._wake,
                    stop=self._duties.stop,
                    poll_seconds=self._poll_seconds,
                )
            )
        sender = ChatSender(self.rt.sessions, TelegramNotifier(bot), self.rt.clock)
        self._duties.spawn(sender.run(self._duties.stop))

    def _the_bot(self) -> Bot:
        if self._bot is None:
            settings = self.rt.settings
            assert settings.telegram_token is not None
            self._bot = make_bot(
                settings.telegram_token.get_secret_value(),
                api_base=str(settings.telegram_api_base).rstrip("/") if settings.telegram_api_base else None,
            )
        return self._bot

    async def bot_username(self) -> str | None:
        """CAREVISIT_TELEGRAM_BOT_USERNAME, else the bot's own (getMe, cached by aiogram); None without a bot."""
        if self.rt.settings.telegram_bot_username:
            return self.rt.settings.telegram_bot_username
        if not self.enabled:
            return None
        return (await self._the_bot().me()).username

    async def stop(self) -> None:
        if self._leadership is not None:
            await self._leadership.stop()  # the duties first: another process may take them over at once
        await self._work.close()
        if self._storage is not None:
            await self._storage.close()
        if self._bot is not None:
            await self._bot.session.close()


def make_part(rt: Runtime) -> BotPart:
    return BotPart(rt)
