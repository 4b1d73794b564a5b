"""The outbox worker: sends due SMS and call rows through the pager, durably.

Goalert's pattern: rows are marked `sending` (and committed) before the provider is called, then moved to what the
provider said. Twilio has no idempotency key, so:

- only errors that certainly were not processed (429/20429, connection refused) are retried at once;
- after a timeout or a 5xx the row stays `sending`, flagged uncertain, and is *reconciled* first: the provider is
  asked for it (by sid, or among recent messages/calls to that number) and it is sent again only if there is none;
- rows found `sending` at start-up (the process died mid-send) are reconciled the same way.

For an emergency a rare duplicate beats a lost page: while the provider's records are unreachable we keep asking
rather than resend, but once it answers "no trace" we send again.

A round sends its rows concurrently (bounded) with no database work in between, then records every outcome in one
transaction: on SQLite, many small concurrent write transactions would mostly wait for each other's locks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.phones import mask_phone
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import PAGE_PURPOSES, record_status
from carevisit.escalation.pager import NotProcessed, PagerError, PermanentError, ProviderRecord, TemporaryError
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import DeliveryEvent, Incident, OutboxMessage

log = logging.getLogger(__name__)

UNCERTAIN = "uncertain"
_PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)
_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.TEMPORARY_FAILURE)


@dataclass(frozen=True, slots=True)
class Outcome:
    row: OutboxMessage
    kind: str  # accepted | not_processed | uncertain | permanent | resend
    sid: str | None = None
    status: DeliveryStatus | None = None
    error: PagerError | None = None
    detail: str | None = None


class OutboxWorker:
    def __init__(
        self,
        esc: Escalation,
        *,
        lease: timedelta = timedelta(minutes=2),
        check_after: timedelta = timedelta(seconds=10),
        concurrency: int = 20,
        max_attempts: int = 12,
        batch: int = 400,
    ) -> None:
        self.esc = esc
        self.lease = lease  # a row 'sending' longer than this was abandoned by a dead process
        self.check_after = check_after  # after a timeout/5xx, when to ask the provider
        self.max_attempts = max_attempts
        self.batch = batch
        self._slots = asyncio.Semaphore(concurrency)

    async def recover(self) -> int:
        """At start-up: every row a dead process left in 'sending' is reconciled before anything else."""
        async with self.esc.sessions() as session:
            rows = list(
                (await session.exec(select(OutboxMessage).where(OutboxMessage.status == DeliveryStatus.SENDING))).all()
            )
        await self._reconcile(rows)
        return len(rows)

    async def run_once(self) -> int:
        """Reconcile what is due for a check, drop pages whose incident no longer needs them, send due rows."""
        now = self.esc.clock.now()
        async with self.esc.sessions() as session:
            stale = list(
                (
                    await session.exec(
                        select(OutboxMessage).where(
                            OutboxMessage.status == DeliveryStatus.SENDING,
                            col(OutboxMessage.channel).in_(_PHONE_CHANNELS),
                            ((col(OutboxMessage.error_code) == UNCERTAIN) & (col(OutboxMessage.not_before) <= now))
                            | (col(OutboxMessage.sending_started_at) <= now - self.lease),
                        )
                    )
                ).all()
            )
        await self._reconcile(stale)
        claimed = await self._claim(now)
        await self._record(await self._send_all(claimed))
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

    # --- claiming and sending ---

    async def _claim(self, now: datetime) -> list[OutboxMessage]:
        async with self.esc.sessions() as session:
            stopped = select(Incident.id).where(col(Incident.status) != IncidentStatus.OPEN)
            await session.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.status).in_(_WAITING),
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
                        col(OutboxMessage.status).in_(_WAITING),
                        col(OutboxMessage.channel).in_(_PHONE_CHANNELS),
                        col(OutboxMessage.not_before) <= now,
                    )
                    .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
                    .limit(self.batch)
                )
            ).all()
            if not due:
                await session.commit()
                return []
            claimed = (
                await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(list(due)), col(OutboxMessage.status).in_(_WAITING))
                    .values(
                        status=DeliveryStatus.SENDING,
                        status_rank=DeliveryStatus.SENDING.rank,
                        sending_started_at=now,
                        attempts=col(OutboxMessage.attempts) + 1,
                        error_code=None,
                    )
                    .returning(col(OutboxMessage.id))
                )
            ).all()
            await session.commit()  # 'sending' is durable before any provider call
            ids = [row[0] for row in claimed]
            rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))).all()
        # Within a round texts go first: an SMS is cheap and waits on the phone; its call follows a moment later.
        return sorted(rows, key=lambda r: (r.channel != Channel.SMS, r.not_before, r.id or 0))

    async def _send_all(self, rows: list[OutboxMessage]) -> list[Outcome]:
        """Every provider call of a round, concurrently; a task group, so nothing outlives a crash half-done."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._send(row)) for row in rows]
        return [task.result() for task in tasks]

    async def _send(self, row: OutboxMessage) -> Outcome:
        esc = self.esc
        callback = esc.url(f"/twilio/status?o={row.id}")
        async with self._slots:
            try:
                if row.channel == Channel.SMS:
                    sent = await esc.pager.send_sms(to=row.to_address, body=row.body, status_callback=callback)
                else:
                    twiml = esc.url(f"/twilio/voice?o={row.id}") or ""
                    sent = await esc.pager.place_call(to=row.to_address, twiml_url=twiml, status_callback=callback)
            except NotProcessed as error:
                return Outcome(row, "not_processed", error=error)
            except TemporaryError as error:
                return Outcome(row, "uncertain", error=error)
            except PermanentError as error:
                return Outcome(row, "permanent", error=error)
            except Exception as error:  # a bug or an unknown failure: treat as uncertain, never as "not sent"
                log.exception("outbox %s: unexpected error while sending", row.id)
                return Outcome(row, "uncertain", error=TemporaryError(str(error)[:200], code="unexpected"))
        return Outcome(row, "accepted", sid=sent.sid, status=sent.status)

    # --- recording outcomes, in one transaction ---

    async def _record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        accepted = [o for o in outcomes if o.kind == "accepted"]
        async with self.esc.sessions() as session:
            await self._accept_all(session, accepted)
            for outcome in outcomes:
                if outcome.kind != "accepted":
                    await self._apply(session, outcome)
            await session.commit()
        for outcome in accepted:
            log.info("outbox %s: accepted by the provider", outcome.row.id)

    async def _accept_all(self, session: AsyncSession, accepted: list[Outcome]) -> None:
        """Record sids and the provider's first status in three executemany statements; a status only moves up
        (a callback may already have brought a later one). Accepted statuses are never failures, so no step
        needs to move on here."""
        if not accepted:
            return
        now = self.esc.clock.now()
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        await session.exec(
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values(provider_sid=bindparam("b_sid"), sent_at=bindparam("b_now"), error_code=None),
            params=[{"b_id": o.row.id, "b_sid": o.sid, "b_now": now} for o in accepted],
        )  # type: ignore[call-overload]
        await session.exec(
            table.update()
            .where((table.c.id == bindparam("b_id")) & (table.c.status_rank < bindparam("b_rank")))
            .values(status=bindparam("b_status"), status_rank=bindparam("b_rank"), last_status_at=bindparam("b_now")),
            params=[
                {"b_id": o.row.id, "b_status": o.status, "b_rank": o.status.rank if o.status else 0, "b_now": now}
                for o in accepted
            ],
        )  # type: ignore[call-overload]
        await session.exec(
            insert(DeliveryEvent),
            params=[
                {"outbox_id": o.row.id, "at": now, "status": o.status, "provider_sid": o.sid, "detail": o.detail}
                for o in accepted
            ],
        )  # type: ignore[call-overload]

    async def _apply(self, session: AsyncSession, outcome: Outcome) -> None:
        esc = self.esc
        row, error = outcome.row, outcome.error
        row_id = row.id or 0
        now = esc.clock.now()
        code = (error.code if error else None) or outcome.kind
        if outcome.kind == "accepted":
            assert outcome.sid and outcome.status
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id)
                .values(provider_sid=outcome.sid, sent_at=now, error_code=None)
            )
            await record_status(
                session,
                clock=esc.clock,
                outbox_id=row_id,
                status=outcome.status,
                sid=outcome.sid,
                detail=outcome.detail,
            )
            log.info("outbox %s: accepted by the provider", row_id)
        elif outcome.kind == "permanent" or (outcome.kind == "not_processed" and row.attempts >= self.max_attempts):
            log.warning("outbox %s: giving up on %s (%s)", row_id, mask_phone(row.to_address), code)
            await record_status(
                session,
                clock=esc.clock,
                outbox_id=row_id,
                status=DeliveryStatus.FAILED,
                error_code=code,
                detail=str(error)[:500] if error else None,
            )
        elif outcome.kind == "not_processed":
            log.warning("outbox %s: not processed (%s), attempt %s; retrying", row_id, code, row.attempts)
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(
                    status=DeliveryStatus.TEMPORARY_FAILURE,
                    status_rank=DeliveryStatus.TEMPORARY_FAILURE.rank,
                    not_before=now + retry_delay(row.attempts),
                    error_code=code[:32],
                    error_message=str(error)[:500],
                )
            )
        else:  # uncertain: ask the provider later before any resend
            log.warning("outbox %s: outcome unknown (%s); will ask the provider before resending", row_id, code)
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(error_code=UNCERTAIN, error_message=f"{code}: {error}"[:500], not_before=now + self.check_after)
            )

    # --- reconciling rows whose send may or may not have reached the provider ---

    async def _reconcile(self, rows: list[OutboxMessage]) -> None:
        if not rows:
            return
        async with self.esc.sessions() as session:
            addresses = list({r.to_address for r in rows})
            known_rows = (
                await session.exec(
                    select(OutboxMessage.id, OutboxMessage.provider_sid).where(
                        col(OutboxMessage.to_address).in_(addresses), col(OutboxMessage.provider_sid).is_not(None)
                    )
                )
            ).all()
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._check(row, {s for i, s in known_rows if i != row.id})) for row in rows]
        outcomes = [task.result() for task in tasks]
        resend = [o.row for o in outcomes if o.kind == "resend"]
        await self._record([o for o in outcomes if o.kind != "resend"])
        if not resend:
            return
        now = self.esc.clock.now()
        async with self.esc.sessions() as session:
            await session.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id).in_([r.id for r in resend]),
                    col(OutboxMessage.status) == DeliveryStatus.SENDING,
                )
                .values(sending_started_at=now, attempts=col(OutboxMessage.attempts) + 1, error_code=None)
            )
            await session.commit()
        log.info("resending %d rows the provider has no trace of", len(resend))
        await self._record(await self._send_all(resend))

    async def _check(self, row: OutboxMessage, known: set[str | None]) -> Outcome:
        async with self._slots:
            try:
                found = await self._find(row, known)
            except (NotProcessed, TemporaryError) as error:
                log.warning("outbox %s: cannot ask the provider yet (%s)", row.id, error.code)
                return Outcome(row, "uncertain", error=error)
        if found is None:
            return Outcome(row, "resend")
        return Outcome(row, "accepted", sid=found.sid, status=found.status, detail="reconciled with the provider")

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
