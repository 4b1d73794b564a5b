"""WeCom (企业微信) as a part of `carevisit run`: the app's callback at /wecom/callback on the web app (every web
process: each callback is taken once, by its unique key), and the chat sender of WeCom's rows of `chat_outbox`.

The sender runs in one process only, the holder of the `wecom` lock: WeCom counts its limits per app and member
(30 a minute, then it drops messages without a word), so there must be one pacer. The holder also forgets handled
callbacks older than a week, once an hour (`wecom.housekeeping`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.bot.chat_sender import WECOM_LIMITS, ChatSender
from carevisit.care.clock import Clock
from carevisit.care.ports import WECOM
from carevisit.config import Settings
from carevisit.config.settings import wecom_missing
from carevisit.storage.locks import Leadership, leader_lock, process_name
from carevisit.wecom.callback import CALLBACK_PATH, CallbackHandler, add_routes
from carevisit.wecom.client import WeComClient
from carevisit.wecom.crypto import CallbackCrypto
from carevisit.wecom.housekeeping import PRUNE_EVERY, prune_wecom_events
from carevisit.wecom.links import home_path
from carevisit.wecom.notifier import WeComNotifier

log = logging.getLogger(__name__)

LOCK_NAME = "wecom"
LEASE = timedelta(seconds=90)  # SQLite: taken over after three missed renewals, as the bot's
API_BASE = "https://qyapi.weixin.qq.com"


def make_client(settings: Settings, clock: Clock) -> WeComClient:
    assert settings.wecom_corp_id and settings.wecom_agent_id is not None and settings.wecom_secret
    base = str(settings.wecom_api_base).rstrip("/") if settings.wecom_api_base else API_BASE
    return WeComClient(
        settings.wecom_corp_id, settings.wecom_agent_id, settings.wecom_secret.get_secret_value(), base, clock
    )


class WeComPart:
    name = "wecom"

    def __init__(self, rt: Runtime, *, leader_check_every: float = 30.0) -> None:
        self.rt = rt
        self._client: WeComClient | None = None
        self._handler: CallbackHandler | None = None
        self._leadership: Leadership | None = None
        self._leader_check_every = leader_check_every
        self._stop_sending = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.rt.settings.wecom_enabled  # all five settings or none: see config/settings.py

    @property
    def leading(self) -> bool:
        return self._leadership is not None and self._leadership.leading

    def add_routes(self, app: web.Application) -> None:
        if not self.enabled:
            return
        settings = self.rt.settings
        assert settings.wecom_token and settings.wecom_aes_key and settings.wecom_corp_id
        crypto = CallbackCrypto(
            settings.wecom_token.get_secret_value(),
            settings.wecom_aes_key.get_secret_value(),
            settings.wecom_corp_id,
            clock=self.rt.clock,
        )
        self._handler = CallbackHandler(
            crypto,
            self.rt.sessions,
            self.rt.clock,
            self.client(),
            language=settings.language,
            agent_id=settings.wecom_agent_id,
        )
        add_routes(app, self._handler)
        app.on_cleanup.append(self._close_web)

    async def start(self) -> None:
        if not self.enabled:
            return
        lock = leader_lock(self.rt.engine, LOCK_NAME, now=self.rt.clock.now, holder=process_name(), ttl=LEASE)
        self._leadership = Leadership(
            lock, on_gain=self._start_sending, on_loss=self._stop_sending_now, every=self._leader_check_every
        )
        await self._leadership.start()

    async def stop(self) -> None:
        if self._leadership is not None:
            await self._leadership.stop()
        if self._client is not None and self._handler is None:  # the web app's cleanup closes a shared one
            await self._client.close()

    async def wait_for_card_updates(self) -> None:
        """Until the tapped cards' updates, done after each callback's answer, have been made (or have failed)."""
        if self._handler is not None:
            await self._handler.settled()

    def client(self) -> WeComClient:
        if self._client is None:
            self._client = make_client(self.rt.settings, self.rt.clock)
        return self._client

    async def _start_sending(self) -> None:
        public = str(self.rt.settings.public_url).rstrip("/") if self.rt.settings.public_url else None
        notifier = WeComNotifier(self.client(), public_url=public, home_of=self._home_of)
        sender = ChatSender(self.rt.sessions, notifier, self.rt.clock, limits=WECOM_LIMITS, channel=WECOM)
        self._stop_sending = asyncio.Event()
        self._sender = asyncio.create_task(sender.run(self._stop_sending))
        self._pruner = asyncio.create_task(self._prune_hourly(self._stop_sending))

    async def _prune_hourly(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.rt.sessions() as session:
                    gone = await prune_wecom_events(session, clock=self.rt.clock)
                    await session.commit()
                if gone:
                    log.info("wecom: forgot %d handled callbacks older than a week", gone)
            except Exception:  # housekeeping: the next hour tries again; sending goes on meanwhile
                log.exception("wecom: pruning handled callbacks failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY.total_seconds())

    async def _home_of(self, userid: str) -> str | None:
        async with self.rt.sessions() as session:
            return await home_path(session, userid)

    async def _stop_sending_now(self) -> None:
        self._stop_sending.set()
        running = {task for task in (self._sender, self._pruner) if task is not None}
        if running:
            await asyncio.wait(running, timeout=10)
        self._sender = self._pruner = None

    async def _close_web(self, _app: web.Application) -> None:
        if self._handler is not None:
            await self._handler.close()
        if self._client is not None:
            await self._client.close()


def report(settings: Settings) -> tuple[str, bool, str]:
    """`carevisit run`'s line for WeCom: where its callback is, or what to set."""
    if not settings.wecom_enabled:
        return ("wecom", False, f"set {', '.join(wecom_missing(settings))}")
    base = (
        str(settings.public_url).rstrip("/")
        if settings.public_url
        else f"http://{settings.web_host}:{settings.web_port}"
    )
    return ("wecom", True, f"callback {base}{CALLBACK_PATH}")


def make_part(rt: Runtime) -> WeComPart:
    return WeComPart(rt)
