"""The Telegram bot as a part of `carevisit run`: webhook (when CAREVISIT_PUBLIC_URL is set) or long polling,
the stored-update processor, and the rate-limited chat sender that drains `chat_outbox`."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

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

log = logging.getLogger(__name__)


def webhook_secret(rt: Runtime) -> str | None:
    """CAREVISIT_TELEGRAM_WEBHOOK_SECRET, or one derived from CAREVISIT_SECRET_KEY (Telegram allows [A-Za-z0-9_-])."""
    settings = rt.settings
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
        return hmac.new(key, b"telegram-webhook", hashlib.sha256).hexdigest()
    return None


class BotPart:
    name = "telegram bot"

    def __init__(self, rt: Runtime, *, bot: Bot | None = None, poll_seconds: int = 25) -> None:
        self.rt = rt
        self._bot = bot
        self._poll_seconds = poll_seconds
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._storage: BaseStorage | None = None
        settings = rt.settings
        self.webhook = settings.telegram_enabled and settings.public_url is not None

    def add_routes(self, app: web.Application) -> None:
        app[BOT_USERNAME] = self.bot_username  # the dashboard's invitation links
        secret = webhook_secret(self.rt)
        if self.webhook and secret:
            app.router.add_post(
                WEBHOOK_PATH, webhook_handler(self.rt.sessions, clock=self.rt.clock, secret=secret, wake=self._wake)
            )

    async def start(self) -> None:
        settings = self.rt.settings
        if settings.telegram_token is None and self._bot is None:
            log.warning(
                "NO TELEGRAM BOT: CAREVISIT_TELEGRAM_TOKEN is not set. Volunteers cannot use the bot, and chat "
                "messages (reminders, emergency updates) stay queued in chat_outbox until a token is configured."
            )
            return
        bot = self._bot or make_bot(
            settings.telegram_token.get_secret_value(),  # type: ignore[union-attr]
            api_base=str(settings.telegram_api_base).rstrip("/") if settings.telegram_api_base else None,
        )
        self._bot = bot
        self._storage = make_storage(settings.redis_url)
        dp = build_dispatcher(
            sessions=self.rt.sessions,
            clock=self.rt.clock,
            zone=settings.zone,
            region=settings.default_region,
            language=settings.language,
            policy=escalation_config(settings).policy,
            epidemic_instructions=settings.epidemic_instructions,
            storage=self._storage,
        )
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
            self._spawn(
                poll_into_store(
                    bot,
                    self.rt.sessions,
                    clock=self.rt.clock,
                    wake=self._wake,
                    stop=self._stop,
                    poll_seconds=self._poll_seconds,
                )
            )
        processor = UpdateProcessor(self.rt.sessions, dp, bot, self.rt.clock, self._wake)
        self._spawn(processor.run(self._stop))
        sender = ChatSender(self.rt.sessions, TelegramNotifier(bot), self.rt.clock)
        self._spawn(sender.run(self._stop))

    async def bot_username(self) -> str | None:
        """CAREVISIT_TELEGRAM_BOT_USERNAME, else the running bot's own (getMe, cached by aiogram); None without a
        bot."""
        if self.rt.settings.telegram_bot_username:
            return self.rt.settings.telegram_bot_username
        if self._bot is None:
            return None
        return (await self._bot.me()).username

    def _spawn(self, work) -> None:  # type: ignore[no-untyped-def]
        self._tasks.append(asyncio.create_task(work))

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            # Polling may sit in a long getUpdates: give the loops a moment, then cancel what is left.
            _done, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._storage is not None:
            await self._storage.close()
        if self._bot is not None:
            await self._bot.session.close()


def make_part(rt: Runtime) -> BotPart:
    return BotPart(rt)
