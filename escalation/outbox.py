"""The outbox worker: sends due SMS and call rows through the pager, durably.

Goalert's pattern: a row is marked `sending` (and committed) before the provider is called, then moves to what the
provider said. Twilio has no idempotency key, so:

- only errors that certainly were not processed (429/20429, connection refused) are retried at once;
- after a timeout or a 5xx the row stays `sending`, flagged uncertain, and is *reconciled* first: the provider is
  asked for it (by sid, or among recent messages/calls to that number) and it is sent again only if there is none;
- rows found `sending` at start-up (the process died mid-send) are reconciled the same way.

For an emergency a rare duplicate beats a lost page: if the provider's records are unreachable for a long time we
keep asking rather than resend, but once it answers "no trace" we send again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlmodel import col, select, update

from care.phones import mask_phone
from escalation.context import Escalation
from escalation.delivery import PAGE_PURPOSES, record_status
from escalation.pager import NotProcessed, PagerError, PermanentError, ProviderRecord, TemporaryError
from storage.enums import Channel, DeliveryStatus, IncidentStatus
from storage.models import Incident, OutboxMessage

log = logging.getLogger(__name__)

UNCERTAIN = "uncertain"
_PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)


class OutboxWorker:
    def __init__(
        self,
        esc: Escalation,
        *,
        lease: timedelta = timedelta(minutes=2),
        check_after: timedelta = timedelta(seconds=10),
        concurrency: int = 20,
        max_attempts: int = 12,
        batch: int = 200,
    ) -> None:
        self.esc = esc
        self.lease = lease  # a row 'sending' longer than this was abandoned by a dead process
        self.check_after = check_after  # after a timeout/5xx, when to ask the provider
        self.max_attempts = max_attempts
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)

    async def recover(self) -> int:
        """At start-up: every row another (dead) process left in 'sending' is reconciled before anything else."""
        async with self.esc.sessions() as session:
            ids = (
                await session.exec(select(OutboxMessage.id).where(OutboxMessage.status == DeliveryStatus.SENDING))
            ).all()
        await self._each(self._reconcile, [i for i in ids if i is not None])
        return len(ids)

    async def run_once(self) -> int:
        """Reconcile what is due for a check, drop pages whose incident no longer needs them, send due rows."""
        now = self.esc.clock.now()
        async with self.esc.sessions() as session:
            stale = (
                await session.exec(
                    select(OutboxMessage.id).where(
                        OutboxMessage.status == DeliveryStatus.SENDING,
                        col(OutboxMessage.channel).in_(_PHONE_CHANNELS),
                        ((col(OutboxMessage.error_code) == UNCERTAIN) & (col(OutboxMessage.not_before) <= now))
                        | (col(OutboxMessage.sending_started_at) <= now - self.lease),
                    )
                )
            ).all()
        await self._each(self._reconcile, [i for i in stale if i is not None])
        claimed = await self._claim(now)
        await self._each(self._send, claimed)
        return len(claimed) + len(stale)

    async def drain(self, *, rounds: int = 20) -> int:
        """Run until nothing is due (tests; the service loop calls run_once periodically)."""
        total = 0
        for _ in range(rounds):
            done = await self.run_once()
            total += done
            if not done:
                break
        return total

    async def _each(self, work, row_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
        """Run `work` on each row concurrently (bounded). A task group, so nothing outlives a crash half-done."""
        async with asyncio.TaskGroup() as group:
            for row_id in row_ids:
                group.create_task(self._guarded(work, row_id))

    async def _guarded(self, work, row_id: int) -> None:  # type: ignore[no-untyped-def]
        async with self._slots:
            try:
                await work(row_id)
            except Exception:
                log.exception("outbox %s: unexpected error; the row will be reconciled", row_id)

    async def _claim(self, now: datetime) -> list[int]:
        async with self.esc.sessions() as session:
            stopped = select(Incident.id).where(col(Incident.status) != IncidentStatus.OPEN)
            await session.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.status).in_((DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)),
                    col(OutboxMessage.purpose).in_(PAGE_PURPOSES),
                    col(OutboxMessage.incident_id).in_(stopped),
                )
                .values(
                    status=DeliveryStatus.CANCELED,
                    status_rank=DeliveryStatus.CANCELED.rank,
                    error_code="stopped",
                    error_message="the incident was acknowledged or resolved before this was sent",
                )
            )
            due = (
                await session.exec(
                    select(OutboxMessage.id)
                    .where(
                        col(OutboxMessage.status).in_((DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)),
                        col(OutboxMessage.channel).in_(_PHONE_CHANNELS),
                        col(OutboxMessage.not_before) <= now,
                    )
                    .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
                    .limit(self.batch)
                )
            ).all()
            claimed: list[int] = []
            for row_id in due:
                result = await session.exec(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id) == row_id,
                        col(OutboxMessage.status).in_((DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)),
                    )
                    .values(
                        status=DeliveryStatus.SENDING,
                        status_rank=DeliveryStatus.SENDING.rank,
                        sending_started_at=now,
                        attempts=col(OutboxMessage.attempts) + 1,
                        error_code=None,
                    )
                )
                if result.rowcount and row_id is not None:
                    claimed.append(row_id)
            await session.commit()  # 'sending' is durable before any provider call
        return claimed

    async def _send(self, row_id: int) -> None:
        esc = self.esc
        async with esc.sessions() as session:
            row = await session.get(OutboxMessage, row_id)
        if row is None or row.status != DeliveryStatus.SENDING:
            return
        callback = esc.url(f"/twilio/status?o={row_id}")
        try:
            if row.channel == Channel.SMS:
                sent = await esc.pager.send_sms(to=row.to_address, body=row.body, status_callback=callback)
            else:
                twiml = esc.url(f"/twilio/voice?o={row_id}") or ""
                sent = await esc.pager.place_call(to=row.to_address, twiml_url=twiml, status_callback=callback)
        except NotProcessed as error:
            await self._not_processed(row, error)
            return
        except TemporaryError as error:
            await self._uncertain(row, error)
            return
        except PermanentError as error:
            log.warning("outbox %s: permanent failure to %s (%s)", row_id, mask_phone(row.to_address), error.code)
            async with esc.sessions() as session:
                await record_status(
                    session,
                    clock=esc.clock,
                    outbox_id=row_id,
                    status=DeliveryStatus.FAILED,
                    error_code=error.code,
                    detail=str(error)[:500],
                )
                await session.commit()
            return
        await self._accepted(row_id, sent.sid, sent.status, detail=None)

    async def _accepted(self, row_id: int, sid: str, status: DeliveryStatus, *, detail: str | None) -> None:
        esc = self.esc
        async with esc.sessions() as session:
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id)
                .values(provider_sid=sid, sent_at=esc.clock.now(), error_code=None)
            )
            await record_status(session, clock=esc.clock, outbox_id=row_id, status=status, sid=sid, detail=detail)
            await session.commit()
        log.info("outbox %s: accepted by the provider as %s", row_id, sid)

    async def _not_processed(self, row: OutboxMessage, error: PagerError) -> None:
        esc = self.esc
        now = esc.clock.now()
        give_up = row.attempts >= self.max_attempts
        log.warning("outbox %s: not processed (%s), attempt %s", row.id, error.code, row.attempts)
        async with esc.sessions() as session:
            if give_up:
                await record_status(
                    session, clock=esc.clock, outbox_id=row.id or 0, status=DeliveryStatus.FAILED, error_code=error.code
                )
            else:
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                    .values(
                        status=DeliveryStatus.TEMPORARY_FAILURE,
                        status_rank=DeliveryStatus.TEMPORARY_FAILURE.rank,
                        not_before=now + retry_delay(row.attempts),
                        error_code=(error.code or "not_processed")[:32],
                        error_message=str(error)[:500],
                    )
                )
            await session.commit()

    async def _uncertain(self, row: OutboxMessage, error: PagerError) -> None:
        esc = self.esc
        log.warning("outbox %s: outcome unknown (%s); will ask the provider before resending", row.id, error.code)
        async with esc.sessions() as session:
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(
                    error_code=UNCERTAIN,
                    error_message=f"{error.code}: {error}"[:500],
                    not_before=esc.clock.now() + self.check_after,
                )
            )
            await session.commit()

    async def _reconcile(self, row_id: int) -> None:
        """A row whose send may or may not have reached the provider: find it there, or send it again."""
        esc = self.esc
        async with esc.sessions() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != DeliveryStatus.SENDING:
                return
            known = set(
                (
                    await session.exec(
                        select(OutboxMessage.provider_sid).where(
                            OutboxMessage.to_address == row.to_address,
                            col(OutboxMessage.provider_sid).is_not(None),
                            col(OutboxMessage.id) != row_id,
                        )
                    )
                ).all()
            )
        try:
            found = await self._find(row, known)
        except (NotProcessed, TemporaryError) as error:
            log.warning("outbox %s: cannot ask the provider yet (%s)", row_id, error.code)
            await self._uncertain(row, error)
            return
        if found is not None:
            await self._accepted(row_id, found.sid, found.status, detail="reconciled with the provider")
            return
        log.info("outbox %s: the provider has no trace of it; sending again", row_id)
        async with esc.sessions() as session:
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(sending_started_at=esc.clock.now(), attempts=col(OutboxMessage.attempts) + 1, error_code=None)
            )
            await session.commit()
        await self._send(row_id)

    async def _find(self, row: OutboxMessage, known: set[str | None]) -> ProviderRecord | None:
        pager = self.esc.pager
        if row.provider_sid:
            return await pager.lookup(channel=row.channel, sid=row.provider_sid)
        since = (row.sending_started_at or row.created_at) - timedelta(minutes=2)
        for record in await pager.find_recent(channel=row.channel, to=row.to_address, since=since):
            if record.sid in known:
                continue
            if row.channel == Channel.SMS and record.body is not None and record.body != row.body:
                continue
            return record
        return None


def retry_delay(attempts: int) -> timedelta:
    """Not-processed errors: at once for the first three tries, then backing off to a minute."""
    return timedelta(0) if attempts <= 3 else timedelta(seconds=min(60, 2 ** (attempts - 3)))
