"""`carevisit run`: the long-running service — web server, and each part that its settings switch on.

A process has a role: `web` serves the dashboard and the webhooks (which only store what arrives), `worker` runs
the background work (scheduler, escalation, bot), `all` does both. Any number of each may run on one database:
work that must happen once is claimed row by row or held by one leader (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from enum import StrEnum

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.config import Settings
from carevisit.parts import bot as bot_part
from carevisit.parts import escalation as escalation_part
from carevisit.parts import scheduler as scheduler_part
from carevisit.parts import wecom as wecom_part
from carevisit.parts.base import Part
from carevisit.web import build_web_app

log = logging.getLogger(__name__)


class Role(StrEnum):
    WEB = "web"
    WORKER = "worker"
    ALL = "all"

    @property
    def serves_web(self) -> bool:
        return self in (Role.WEB, Role.ALL)

    @property
    def does_work(self) -> bool:
        return self in (Role.WORKER, Role.ALL)


def parts_report(rt: Runtime, role: Role = Role.ALL) -> list[tuple[str, bool, str]]:
    """(part, on?, why) for each part, so `carevisit run` can say plainly what is off."""
    settings = rt.settings
    if not role.does_work:
        return [
            ("dashboard", True, f"http://{settings.web_host}:{settings.web_port}/ (and the webhooks)"),
            ("background work", False, "role web: run `carevisit run --role worker` beside it"),
        ]
    web = (True, f"http://{settings.web_host}:{settings.web_port}/") if role.serves_web else (False, "role worker")
    return [
        ("dashboard", *web),
        (
            "scheduler",
            True,
            f"plans at {settings.plan_time:%H:%M}, digests at {settings.reminder_time:%H:%M} ({settings.timezone})",
        ),
        (
            "telegram bot",
            settings.telegram_enabled,
            "webhook"
            if settings.telegram_enabled and settings.public_url
            else "long polling"
            if settings.telegram_enabled
            else "set CAREVISIT_TELEGRAM_TOKEN",
        ),
        _pager_report(settings),
        wecom_part.report(settings),
    ]


_PROVIDERS = {"twilio": "Twilio", "aliyun": "Aliyun (阿里云短信、语音)", "tencent": "Tencent Cloud (腾讯云短信、语音)"}


def _pager_report(settings: Settings) -> tuple[str, bool, str]:
    name = settings.pager_in_use
    if name == "console" or (name == "twilio" and not settings.twilio_enabled):
        return ("sms/voice", False, "console only: NO real SMS or call will go out")
    return ("sms/voice", True, _PROVIDERS[name])


def make_parts(rt: Runtime) -> list[Part]:
    """Every long-running part, in start order; each decides from settings how it talks to the outside world.

    The bot starts last so that the parts it hands work to (incidents, chat messages) are already running.
    """
    return [
        scheduler_part.make_part(rt),
        escalation_part.make_part(rt),
        wecom_part.make_part(rt),
        bot_part.make_part(rt),
    ]


async def serve(
    rt: Runtime,
    *,
    role: Role = Role.ALL,
    parts: list[Part] | None = None,
    started: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set), then stop every part cleanly, last started first."""
    parts = make_parts(rt) if parts is None else parts
    runner = await _start_web(rt, parts) if role.serves_web else None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    started_parts: list[Part] = []
    try:
        for part in parts if role.does_work else []:
            await part.start()
            started_parts.append(part)
            log.info("%s started", part.name)
        if started:
            started()
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        for part in reversed(started_parts):
            try:
                await part.stop()
            except Exception:  # one part failing to stop must not keep the others running
                log.exception("%s did not stop cleanly", part.name)
        if runner is not None:
            await runner.cleanup()


def settle_heap() -> None:
    """Once started, put what start-up built — modules, mappers, SDK clients, some 140,000 objects — out of the
    garbage collector's sight (`gc.freeze`). Otherwise every full collection walks all of it again; one costs
    ~80 ms on a 2-core machine and falls wherever allocation triggers it, often in the middle of the engine
    stepping an emergency (bench/bench_escalation.py: 230–265 ms to the first SMS without, 130–160 ms with)."""
    gc.collect()
    gc.freeze()


async def _start_web(rt: Runtime, parts: list[Part]) -> web.AppRunner:
    """The one web app with every part's routes, listening; raises OSError (port taken) before anything else starts."""
    app = build_web_app(rt)
    for part in parts:
        part.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, rt.settings.web_host, rt.settings.web_port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    log.info("web server listening on %s:%s", rt.settings.web_host, rt.settings.web_port)
    return runner
