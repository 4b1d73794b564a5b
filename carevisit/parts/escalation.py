"""The escalation part of `carevisit run`: Twilio webhooks and the acknowledgement page on the web app, and two
loops — the engine cycle (due incidents → outbox rows) and the outbox worker (rows → Twilio) — plus family reports.

Stopping lets the passes and rounds in progress finish (for up to STOP_GRACE seconds): a task cancelled while its
session hands a connection back leaves the pool a broken connection and a traceback, and a send cut short is left
to reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.config import Settings
from carevisit.escalation import webhooks
from carevisit.escalation.context import Escalation
from carevisit.escalation.family import queue_family_reports
from carevisit.escalation.loops import EscalationLoops
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import ConsolePager, Pager
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.policies import escalation_config

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds the cycle in progress may take to finish on stop (a Twilio request times out at 15)


def make_pager(settings: Settings) -> Pager:
    """Twilio when credentials are set, else the console pager. Call inside the running loop."""
    if not settings.twilio_enabled:
        log.warning("no Twilio credentials: SMS and calls are only logged, NOTHING is sent")
        return ConsolePager()
    assert settings.twilio_account_sid and settings.twilio_auth_token
    if settings.public_url is None:
        log.warning("CAREVISIT_PUBLIC_URL is not set: no delivery callbacks, no acknowledgement links or keypresses")
    return TwilioPager(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        from_number=settings.twilio_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        api_base=str(settings.twilio_api_base) if settings.twilio_api_base else None,
    )


class EscalationPart:
    name = "escalation"

    def __init__(
        self, rt: Runtime, *, pager: Pager | None = None, interval: float = 1.0, family_every: float = 300.0
    ) -> None:
        settings = rt.settings
        self.settings = settings
        self.interval = interval
        self.family_every = family_every
        self._given_pager = pager
        self.esc = Escalation(
            sessions=rt.sessions,
            clock=rt.clock,
            pager=pager or ConsolePager(),
            config=escalation_config(settings),
            secret=settings.secret_key.get_secret_value().encode() if settings.secret_key else None,
            public_url=str(settings.public_url).rstrip("/") if settings.public_url else None,
            callback_secret=(
                settings.pager_callback_secret.get_secret_value() if settings.pager_callback_secret else None
            ),
            language=settings.language,
            zone=settings.zone,
        )
        # Its worker_id is unique per process: it owns the rows it leases, for the lease's length at a time.
        self.worker = OutboxWorker(self.esc, lease=timedelta(seconds=settings.outbox_lease_seconds))
        self.loops = EscalationLoops(self.esc, self.worker, interval=interval)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        token = self.settings.twilio_auth_token.get_secret_value() if self.settings.twilio_auth_token else None
        webhooks.add_routes(app, self.esc, auth_token=token)

    async def start(self) -> None:
        if self._given_pager is None:
            self.esc.pager = make_pager(self.settings)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="escalation")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            self.loops.stop()
            _done, late = await asyncio.wait({self._task}, timeout=STOP_GRACE)
            if late:
                log.warning("escalation: the work in progress did not finish in %.0f s; cancelling it", STOP_GRACE)
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        await self.esc.pager.close()

    async def _run(self) -> None:
        # The engine and outbox loops (escalation.loops, claim-safe in any number of processes) beside the
        # family reports.
        async with asyncio.TaskGroup() as group:
            group.create_task(self.loops.run(), name="escalation-loops")
            group.create_task(self._family_loop(), name="escalation-family")

    async def _family_loop(self) -> None:
        while not self._stopping.is_set():
            await self._safely(self._family)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.family_every)

    async def _family(self) -> None:
        async with self.esc.sessions() as session:
            queued = await queue_family_reports(
                session,
                clock=self.esc.clock,
                mode=self.esc.config.family_reports,
                zone=self.esc.zone,
                language=self.esc.language,
            )
            await session.commit()
        if queued:
            log.info("queued %d family visit reports", queued)

    async def _safely(self, work) -> None:  # type: ignore[no-untyped-def]
        try:
            await work()
        except Exception:  # a bad pass must not stop paging: log it and try again next time
            log.exception("escalation: %s failed", getattr(work, "__name__", "work"))


def make_part(rt: Runtime) -> EscalationPart:
    return EscalationPart(rt)
