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
from carevisit.care.clock import Clock
from carevisit.config import Settings
from carevisit.escalation import webhooks
from carevisit.escalation.context import Escalation
from carevisit.escalation.family import queue_family_reports
from carevisit.escalation.loops import EscalationLoops
from carevisit.escalation.outbox import OutboxWorker
from carevisit.escalation.pager import ConsolePager, Pager
from carevisit.escalation.pager_templates import PagerTemplates, TemplateFileError, load_templates
from carevisit.escalation.provider_limits import Limits, LimitsFileError, load_limits
from carevisit.escalation.twilio_pager import TwilioPager
from carevisit.pager_check import DOMESTIC, pager_findings
from carevisit.policies import escalation_config

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds the cycle in progress may take to finish on stop (a Twilio request times out at 15)


class PagerSetupError(Exception):
    """The chosen pager cannot start (an extra not installed, a templates file missing or wrong); says what to do."""


def make_pager(settings: Settings, clock: Clock | None = None) -> Pager:
    """The pager CAREVISIT_PAGER names, once `pager_check` finds nothing that stops it from paging as the policy
    asks (its SDK, settings, approved templates, the policy against its limits). Call inside the running loop."""
    name = settings.pager_in_use
    if name in DOMESTIC:
        errors = pager_findings(settings).errors
        if errors:
            raise PagerSetupError("; ".join(errors))
    if name == "aliyun":
        return _aliyun(settings, clock)
    if name == "tencent":
        return _tencent(settings, clock)
    if name == "console" or not settings.twilio_enabled:
        log.warning("console pager: SMS and calls are only logged, NOTHING is sent")
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


def _templates(settings: Settings) -> PagerTemplates:
    if settings.pager_templates_file is None:
        raise PagerSetupError(
            f"CAREVISIT_PAGER={settings.pager} sends only approved templates: set CAREVISIT_PAGER_TEMPLATES_FILE "
            "(docs/providers.md)"
        )
    try:
        return load_templates(settings.pager_templates_file)
    except TemplateFileError as error:
        raise PagerSetupError(str(error)) from None


def _limits(settings: Settings) -> Limits:
    """The provider's frequency limits the outbox paces each number within (defaults, or the limits file)."""
    try:
        return load_limits(settings.pager_in_use, settings.pager_limits_file)
    except LimitsFileError as error:
        raise PagerSetupError(str(error)) from None


def _aliyun(settings: Settings, clock: Clock | None) -> Pager:
    from carevisit.escalation import aliyun_pager

    # make_pager has refused a missing SDK (pager_findings) and the settings' validator missing credentials.
    assert settings.aliyun_access_key_id and settings.aliyun_access_key_secret and settings.aliyun_sign_name
    return aliyun_pager.AliyunPager(
        access_key_id=settings.aliyun_access_key_id,
        access_key_secret=settings.aliyun_access_key_secret.get_secret_value(),
        sign_name=settings.aliyun_sign_name,
        templates=_templates(settings),
        sms_endpoint=settings.aliyun_sms_endpoint,
        voice_endpoint=settings.aliyun_voice_endpoint,
        called_show_number=settings.aliyun_called_show_number,
        clock=clock,
    )


def _tencent(settings: Settings, clock: Clock | None) -> Pager:
    from carevisit.escalation import tencent_pager

    # make_pager has refused a missing SDK (pager_findings) and the settings' validator missing credentials.
    assert settings.tencent_secret_id and settings.tencent_secret_key
    assert settings.tencent_sms_app_id and settings.tencent_sign_name
    return tencent_pager.TencentPager(
        secret_id=settings.tencent_secret_id,
        secret_key=settings.tencent_secret_key.get_secret_value(),
        sms_app_id=settings.tencent_sms_app_id,
        voice_app_id=settings.tencent_voice_app_id,
        sign_name=settings.tencent_sign_name,
        templates=_templates(settings),
        sms_endpoint=settings.tencent_sms_endpoint,
        voice_endpoint=settings.tencent_voice_endpoint,
        clock=clock,
        account=settings.tencent_account,
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
        self._made_pager = False
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
            limits=_limits(settings),
            language=settings.language,
            zone=settings.zone,
        )
        # Its worker_id is unique per process: it owns the rows it leases, for the lease's length at a time.
        self.worker = OutboxWorker(self.esc, lease=timedelta(seconds=settings.outbox_lease_seconds))
        self.loops = EscalationLoops(self.esc, self.worker, interval=interval)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        """The webhooks, and the pager they need: a web-only process reads Aliyun's and Tencent's pushes with it
        and asks the provider to confirm a key press. Raises PagerSetupError before anything listens."""
        self._ensure_pager()
        token = self.settings.twilio_auth_token.get_secret_value() if self.settings.twilio_auth_token else None
        webhooks.add_routes(app, self.esc, auth_token=token)

        async def close_pager(_: web.Application) -> None:
            await self.esc.pager.close()

        app.on_cleanup.append(close_pager)

    def _ensure_pager(self) -> None:
        """Make the configured pager once (inside the running loop), for the routes and the loops alike."""
        if self._given_pager is None and not self._made_pager:
            self.esc.pager = make_pager(self.settings, self.esc.clock)
            self._made_pager = True

    async def start(self) -> None:
        self._ensure_pager()
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
