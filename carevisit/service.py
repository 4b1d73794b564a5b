"""`carevisit run`: the long-running service — web server, and each part that its settings switch on."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.parts.base import Part
from carevisit.web import build_web_app

log = logging.getLogger(__name__)


def parts_report(rt: Runtime) -> list[tuple[str, bool, str]]:
    """(part, on?, why) for each part, so `carevisit run` can say plainly what is off."""
    settings = rt.settings
    return [
        ("dashboard", True, f"http://{settings.web_host}:{settings.web_port}/"),
        (
            "telegram bot",
            settings.telegram_enabled,
            "webhook"
            if settings.telegram_enabled and settings.public_url
            else "long polling"
            if settings.telegram_enabled
            else "set CAREVISIT_TELEGRAM_TOKEN",
        ),
        (
            "sms/voice",
            settings.twilio_enabled,
            "Twilio" if settings.twilio_enabled else "console only: NO real SMS or call will go out",
        ),
    ]


def make_parts(rt: Runtime) -> list[Part]:
    """Every long-running part, in start order; each decides from settings how it talks to the outside world."""
    return []


async def serve(
    rt: Runtime, *, parts: list[Part] | None = None, started: Callable[[], None] | None = None
) -> None:
    """Run until SIGINT/SIGTERM, then stop every part cleanly."""
    parts = make_parts(rt) if parts is None else parts
    app = build_web_app(rt)
    for part in parts:
        part.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, rt.settings.web_host, rt.settings.web_port)
    await site.start()
    log.info("web server listening on %s:%s", rt.settings.web_host, rt.settings.web_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started_parts: list[Part] = []
    try:
        for part in parts:
            await part.start()
            started_parts.append(part)
            log.info("%s started", part.name)
        if started:
            started()
        await stop.wait()
    finally:
        for part in reversed(started_parts):
            await part.stop()
        await runner.cleanup()
