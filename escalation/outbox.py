"""The outbox worker: sends due SMS and call rows through the pager, durably, in any number of processes.

Goalert's pattern: rows are claimed — marked `sending` with a lease, and committed — before the provider is called,
then moved to what the provider said. Twilio has no idempotency key, so:

- only errors that certainly were not processed (429/20429, connection refused) are retried at once;
- after a timeout or a 5xx the row stays `sending`, flagged uncertain, and is *reconciled* first: the provider is
  asked for it (by sid, or among recent messages/calls to that number) and it is sent again only if there is none,
  the answer can be trusted (Twilio's lists lag a create: "no trace" counts only `settle` after the attempt), and
  its incident still needs it;
- a row whose worker died mid-send is reconciled the same way, by another worker, once the lease has expired.

Rows to one number are reconciled one after another, each taking only a provider record no other row holds (the
sid is unique): two uncertain calls to a daughter two elders share must not both claim the one call Twilio placed.
A sid the provider gave in answer to a create always wins over one a reconciliation guessed.

For an emergency a rare duplicate beats a lost page: while the provider's records are unreachable we keep asking
rather than resend, but once it answers "no trace" long enough after the attempt we send again.

A round sends its rows concurrently (bounded) with no database work in between, then records every outcome in one
transaction: on SQLite, many small concurrent write transactions would mostly wait for each other's locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.phones import mask_phone
from carevisit.escalation import claims, pacing
from carevisit.escalation.claims import LeasedRow
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import PAGE_PURPOSES, UNCERTAIN, record_status, take_sids
from carevisit.escalation.notices import FREE_TEXT, Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import (
    CannotTell,
    NotProcessed,
    PagerError,
    PermanentError,
    ProviderRecord,
    TemporaryError,
)
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.locks import process_name
from carevisit.storage.models import DeliveryEvent, Incident, OutboxMessage

log = logging.getLogger(__name__)

CALLS_WAIT = 1.0  # seconds a round's calls wait at most for its texts to be answered


@dataclass(frozen=True, slots=True)
class Outcome:
    row: LeasedRow
    # accepted: the provider answered a create (its sid is authoritative) | reconciled: found in its records |
    # not_processed | uncertain | permanent | resend (no trace: send again) | deferred (paced: wait for the limits)
    kind: str
    sid: str | None = None
    status: DeliveryStatus | None = None
    error: PagerError | None = None
    detail: str | None = None
    check_at: datetime | None = None  # uncertain: when to ask the provider again
    attempted_at: datetime | None = None  # when the request really went (a round's rows wait for a free slot)


@dataclass(frozen=True, slots=True)
class Round:
    """Rows one claim leased: to ask the provider about, and to send."""

    stale: list[LeasedRow]
    due: list[LeasedRow]

    def __len__(self) -> int:
        return len(self.stale) + len(self.due)


class OutboxWorker:
    def __init__(
        self,
        esc: Escalation,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        check_after: timedelta = timedelta(seconds=10),
        settle: timedelta = timedelta(seconds=30),
        concurrency: int = 20,
        max_attempts: int = 12,
        batch: int = 400,
    ) -> None:
        self.esc = esc
        self.worker_id = worker_id or process_name()
        self.lease = lease  # another worker takes a 'sending' row over only once this has passed unrenewed
        self.check_after = check_after  # after a timeout/5xx, when to ask the provider
        self.settle = settle  # how long after an attempt a "no trace" answer from the provider's lists counts
        self.max_attempts = max_attempts
        self.batch = batch
        self._slots = Slots(concurrency)
        self._adopted: list[LeasedRow] = []
        self._reconciling = asyncio.Lock()  # rows to one number are reconciled one after another, across rounds

    async def recover(self) -> int:
        """At start-up: reconcile what dead processes left `sending` — only rows whose lease has expired, never
        one a live process is sending — and uncertain rows due for a check. Returns how many were looked at."""
        stale, _ = await self._claim(self.esc.clock.now(), send=False)
        async with self._leases_held([r.id for r in stale]):
            await self._reconcile_leased(stale)
        return len(stale)

    async def run_once(self) -> int:
        """One round, start to end: claim, then reconcile and send. Returns how many rows it handled."""
        round_ = await self.claim_round()
        if round_ is None:
            return 0
        await self.run_round(round_)
        return len(round_)

    def adopt(self, rows: list[LeasedRow]) -> None:
        """Pages the engine of this process wrote already leased to this worker (committed as `sending`): the
        next round sends them without a claim of its own (and renews their leases from then on)."""
        self._adopted.extend(rows)

    @property
    def has_adopted(self) -> bool:
        return bool(self._adopted)

    async def claim_round(self) -> Round | None:
        """Claim, in one transaction, the rows due for a check and the rows due to be sent (dropping pages whose
        incident no longer needs them); None when there is nothing to do — an idle claim writes nothing. Pages
        handed over by the engine come first, with no claim at all."""
        if self._adopted:
            adopted, self._adopted = self._adopted, []
            return Round([], adopted)
        now = self.esc.clock.now()
        if not await self._anything_due(now):
            return None
        stale, due = await self._claim(now, send=True)
        return Round(stale, due) if stale or due else None

    async def run_round(self, round_: Round) -> None:
        """Reconcile the round's uncertain rows, send its due ones and record what became of them, renewing
        every lease of the round meanwhile. Rounds may overlap (the loops claim the next while one is
        sending); they share the worker's concurrency."""
        async with self._leases_held([r.id for r in round_.stale + round_.due]):
            await self._reconcile_leased(round_.stale)
            await self._record(await self._send_all(round_.due))

    async def drain(self, *, rounds: int = 20) -> int:
        """Run rounds until nothing is due (tests and tools; the service runs `loops.EscalationLoops`)."""
        total = 0
        for _ in range(rounds):
            done = await self.run_once()
            total += done
            if not done:
                break
        return total

    # --- claiming and sending ---

    async def _anything_due(self, now: datetime) -> bool:
        async with self.esc.sessions() as session:
            return await claims.anything_due(session, now=now)

    async def _claim(self, now: datetime, *, send: bool) -> tuple[list[LeasedRow], list[LeasedRow]]:
        """Lease the rows due for a check, and (with `send`) this round's rows to send: texts first — while any
        SMS is due a round sends only SMS (cheap, and it waits on the phone), the calls follow a moment later."""
        owner, lease, batch = self.worker_id, self.lease, self.batch
        async with self.esc.writing() as session:
            stale = await claims.claim_stale_rows(session, now=now, owner=owner, lease=lease, limit=batch)
            due: list[int] = []
            if send:
                await claims.cancel_stopped_pages(session)
                for channels in ((Channel.SMS,), (Channel.VOICE,)):
                    due = await claims.claim_due_rows(
                        session, now=now, owner=owner, lease=lease, limit=batch, channels=channels
                    )
                    if due:
                        break
            await session.commit()  # 'sending' is durable before any provider call
            if not (stale or due):
                return [], []
            rows = await claims.leased_rows(session, stale + due)
        ordered, checking = sorted(rows, key=lambda r: (r.not_before, r.id)), set(stale)
        return [r for r in ordered if r.id in checking], [r for r in ordered if r.id not in checking]

    async def _send_all(self, rows: list[LeasedRow]) -> list[Outcome]:
        """Every provider call of a round, concurrently; a task group, so nothing outlives a crash half-done.
        On a graceful stop the rows are handed on as uncertain."""
        if not rows:
            return []
        rows, held = await self._paced(rows)
        texts = [r for r in rows if r.channel == Channel.SMS]
        calls = [r for r in rows if r.channel != Channel.SMS]
        try:
            async with asyncio.TaskGroup() as group:
                sms = [group.create_task(self._send(row)) for row in texts]
                if sms and calls:
                    # The texts are what a phone shows first: let them have the CPU and the slots, and start
                    # the calls once they are answered — or CALLS_WAIT later, so a hung SMS never holds a call.
                    await asyncio.wait(sms, timeout=CALLS_WAIT)
                voice = [group.create_task(self._send(row)) for row in calls]
        except asyncio.CancelledError:
            await self._hand_on([r.id for r in rows])
            raise
        return held + [task.result() for task in sms + voice]

    async def _paced(self, rows: list[LeasedRow]) -> tuple[list[LeasedRow], list[Outcome]]:
        """The rows to send now, and the outcomes of those the provider's limits hold back (`pacing`)."""
        go, waiting, refused = await pacing.pace(self.esc, rows)
        held = [Outcome(row, "deferred", check_at=when) for row, when in waiting]
        held += [Outcome(row, "permanent", error=error) for row, error in refused]
        return go, held

    async def _send(self, row: LeasedRow) -> Outcome:
        esc = self.esc
        callbacks = Callbacks(
            status=esc.url(f"/twilio/status?o={row.id}"),
            script=esc.url(f"/twilio/voice?o={row.id}") if row.channel == Channel.VOICE else None,
            reference=str(row.id),
        )
        kind, params = row.notice_kind or FREE_TEXT, dict(row.notice_params or {})
        async with self._slots.held(urgent=row.channel == Channel.SMS):
            attempted_at = esc.clock.now()
            try:
                if row.channel == Channel.SMS:
                    notice = Notice(kind, params, row.body)
                    sent = await esc.pager.send_sms(to=row.to_address, notice=notice, callbacks=callbacks)
                else:
                    script = VoiceScript(kind, params, row.body)
                    sent = await esc.pager.place_call(to=row.to_address, script=script, callbacks=callbacks)
            except NotProcessed as error:
                return Outcome(row, "not_processed", error=error)
            except TemporaryError as error:
                return Outcome(row, "uncertain", error=error, attempted_at=attempted_at)
            except PermanentError as error:
                return Outcome(row, "permanent", error=error)
            except Exception as error:  # a bug or an unknown failure: treat as uncertain, never as "not sent"
                log.exception("outbox %s: unexpected error while sending", row.id)
                error = TemporaryError(str(error)[:200], code="unexpected")
                return Outcome(row, "uncertain", error=error, attempted_at=attempted_at)
        return Outcome(row, "accepted", sid=sent.sid, status=sent.status)

    @contextlib.asynccontextmanager
    async def _leases_held(self, ids: Sequence[int]) -> AsyncIterator[None]:
        """Renew the leases of rows whose provider calls are under way, for as long as they are."""
        if not ids:
            yield
            return
        renewing = asyncio.create_task(self._renew(ids), name="outbox-leases")
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew(self, ids: Sequence[int]) -> None:
        every = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                async with self.esc.writing() as session:
                    until = self.esc.clock.now() + self.lease
                    await claims.renew_leases(session, ids=ids, owner=self.worker_id, until=until)
                    await session.commit()
            except Exception:  # the next renewal tries again; a lost lease only invites a reconciliation
                log.exception("outbox: renewing %d leases failed", len(ids))

    async def _hand_on(self, ids: Sequence[int]) -> None:
        """A graceful stop mid-send: the rows may have reached the provider, so they become uncertain with no
        lease, for the next worker to reconcile at once instead of after the lease."""
        with contextlib.suppress(Exception):
            async with self.esc.writing() as session:
                await session.exec(
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id).in_(list(ids)),
                        OutboxMessage.status == DeliveryStatus.SENDING,
                        OutboxMessage.lease_owner == self.worker_id,
                    )
                    .values(error_code=UNCERTAIN, lease_until=None, not_before=self.esc.clock.now())
                )
                await session.commit()

    # --- recording outcomes, in one transaction ---

    async def _record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        try:
            async with self.esc.writing() as session:
                await self._record_in(session, outcomes)
                await session.commit()
        except IntegrityError:
            # A sid reconciled here was recorded meanwhile by another worker: record one by one, and let the
            # reconciliation that lost ask again.
            log.info("outbox: a reconciled sid was taken meanwhile; recording %d outcomes one by one", len(outcomes))
            for outcome in outcomes:
                try:
                    async with self.esc.writing() as session:
                        await self._record_in(session, [outcome])
                        await session.commit()
                except IntegrityError:
                    await self._record([replace(outcome, kind="uncertain", sid=None, check_at=self._soon())])
                else:
                    _log_sent([outcome])
            return
        _log_sent(outcomes)

    async def _record_in(self, session: AsyncSession, outcomes: list[Outcome]) -> None:
        sent = [o for o in outcomes if o.kind in ("accepted", "reconciled")]
        # A create's answer names its own message or call: a row that merely guessed that sid gives it up.
        accepted = {o.row.id or 0: o.sid for o in sent if o.kind == "accepted" and o.sid}
        await take_sids(session, now=self.esc.clock.now(), sids=accepted)
        await self._accept_all(session, sent)
        for outcome in outcomes:
            if outcome.kind not in ("accepted", "reconciled"):
                await self._apply(session, outcome)

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
            .values(provider_sid=bindparam("b_sid"), sent_at=bindparam("b_now"), error_code=None, lease_until=None),
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
        if outcome.kind == "deferred":  # paced: back to waiting until the provider's limits allow it
            log.info("outbox %s: paced to %s by the provider's limits", row_id, outcome.check_at)
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(
                    status=DeliveryStatus.PENDING,
                    status_rank=DeliveryStatus.PENDING.rank,
                    not_before=outcome.check_at or now,
                    error_code="paced",
                    lease_until=None,
                )
            )
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
            await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(lease_until=None))
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
                    lease_until=None,
                )
            )
        else:  # uncertain: no lease; any worker asks the provider at `check_at` before any resend
            log.warning("outbox %s: outcome unknown (%s); will ask the provider before resending", row_id, code)
            await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == DeliveryStatus.SENDING)
                .values(
                    error_code=UNCERTAIN,
                    error_message=f"{code}: {error}"[:500] if error else outcome.detail,
                    not_before=outcome.check_at or now + self.check_after,
                    lease_until=None,
                    # "No trace" counts from when the request really went, not from when the row was claimed.
                    sending_started_at=outcome.attempted_at or OutboxMessage.sending_started_at,
                )
            )

    def _soon(self) -> datetime:
        return self.esc.clock.now() + self.check_after

    # --- reconciling rows whose send may or may not have reached the provider ---

    async def _reconcile_leased(self, rows: list[LeasedRow]) -> None:
        if not rows:
            return
        ids = [r.id for r in rows]
        try:
            async with self._reconciling:
                await self._reconcile(rows)
        except asyncio.CancelledError:
            await self._hand_on(ids)
            raise

    async def _reconcile(self, rows: list[LeasedRow]) -> None:
        """Ask the provider about each row; rows to one number one after another, numbers concurrently."""
        by_number: dict[tuple[Channel, str], list[LeasedRow]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: (r.sending_started_at or r.created_at, r.id or 0)):
            by_number[(row.channel, row.to_address)].append(row)
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._check_number(channel, to, same)) for (channel, to), same in by_number.items()
            ]
        outcomes = [outcome for task in tasks for outcome in task.result()]
        resend = [o.row for o in outcomes if o.kind == "resend"]
        await self._record([o for o in outcomes if o.kind != "resend"])
        if resend:
            await self._record(await self._send_all(await self._still_needed(resend)))

    async def _check_number(self, channel: Channel, to: str, rows: list[LeasedRow]) -> list[Outcome]:
        known = await self._sids_to(channel, to)
        outcomes = []
        for row in rows:
            outcome = await self._check(row, known - {row.provider_sid})
            if outcome.kind == "reconciled" and outcome.sid:
                known.add(outcome.sid)  # taken: the next row to this number must find another
            outcomes.append(outcome)
        return outcomes

    async def _sids_to(self, channel: Channel, to: str) -> set[str | None]:
        async with self.esc.sessions() as session:
            found = await session.exec(
                select(OutboxMessage.provider_sid).where(
                    OutboxMessage.to_address == to,
                    OutboxMessage.channel == channel,
                    col(OutboxMessage.provider_sid).is_not(None),
                )
            )
            return set(found.all())

    async def _check(self, row: LeasedRow, known: set[str | None]) -> Outcome:
        async with self._slots.held(urgent=row.channel == Channel.SMS):
            try:
                found, listed = await self._find(row, known)
            except Exception as error:  # refused, unreachable or a bug: asking failed, which is not "no trace"
                reason = error.code if isinstance(error, PagerError) else type(error).__name__
                log.warning("outbox %s: cannot ask the provider yet (%s)", row.id, reason)
                return Outcome(row, "uncertain", error=error if isinstance(error, PagerError) else None)
        if found is not None:
            return Outcome(row, "reconciled", sid=found.sid, status=found.status, detail="reconciled with the provider")
        started = row.sending_started_at or row.created_at
        # A provider whose lists lag longer than ours says so (Tencent's pull shows an SMS only once its receipt came).
        trusted_at = started + max(self.settle, getattr(self.esc.pager, "list_lag", timedelta(0)))
        if listed and self.esc.clock.now() < trusted_at:
            # Lists lag a create (Twilio's; Tencent's pull shows a message once its receipt came): an answer this
            # soon after the attempt may not show it yet.
            return Outcome(row, "uncertain", detail="no trace yet; asking again", check_at=trusted_at)
        return Outcome(row, "resend")

    async def _find(self, row: LeasedRow, known: set[str | None]) -> tuple[ProviderRecord | None, bool]:
        """The provider's record of the row, and whether it came from a list (which may lag a create)."""
        pager = self.esc.pager
        if row.provider_sid:
            try:
                return await pager.lookup(channel=row.channel, sid=row.provider_sid), False
            except CannotTell:
                pass  # no lookup by id (Tencent): the sid among the number's recent records
        since = (row.sending_started_at or row.created_at) - timedelta(minutes=2)
        records = await pager.find_recent(channel=row.channel, to=row.to_address, since=since)
        for record in sorted(records, key=lambda r: r.created_at or since):  # oldest first: rows go oldest first
            if record.sid in known:
                continue
            if row.provider_sid and record.sid == row.provider_sid:
                return record, True
            if record.reference is not None:
                if record.reference != str(row.id):
                    continue
            elif row.channel == Channel.SMS and record.body is not None and record.body != row.body:
                continue
            return record, True
        return None, True

    async def _still_needed(self, rows: list[LeasedRow]) -> list[LeasedRow]:
        """Before sending again: pages whose incident was acknowledged or resolved meanwhile are canceled, the
        rest get a fresh attempt (and lease). Returns the rows to send."""
        ids = [r.id for r in rows]
        now = self.esc.clock.now()
        mine = (
            col(OutboxMessage.id).in_(ids),
            OutboxMessage.status == DeliveryStatus.SENDING,
            OutboxMessage.lease_owner == self.worker_id,
        )
        async with self.esc.writing() as session:
            stopped = select(Incident.id).where(Incident.status != IncidentStatus.OPEN)
            await session.exec(
                update(OutboxMessage)
                .where(
                    *mine,
                    col(OutboxMessage.purpose).in_(PAGE_PURPOSES),
                    col(OutboxMessage.incident_id).in_(stopped),
                )
                .values(**claims.STOPPED)
            )
            again = await session.exec(
                update(OutboxMessage)
                .where(*mine)
                .values(
                    sending_started_at=now,
                    attempts=col(OutboxMessage.attempts) + 1,
                    error_code=None,
                    lease_until=now + self.lease,
                )
                .returning(col(OutboxMessage.id))
            )
            resend = {row[0] for row in again.all()}
            await session.commit()
        if len(resend) < len(rows):
            log.info("outbox: %d pages not resent: their incident no longer needs them", len(rows) - len(resend))
        if resend:
            log.info("resending %d rows the provider has no trace of", len(resend))
        return [r for r in rows if r.id in resend]


def _log_sent(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if outcome.kind in ("accepted", "reconciled"):
            log.info("outbox %s: %s by the provider", outcome.row.id, outcome.kind)


class Slots:
    """At most `n` provider requests at once, shared by overlapping rounds. When one frees, a waiting text goes
    before a waiting call (the SMS is cheap and what a phone shows first); first come, first served within each."""

    def __init__(self, n: int) -> None:
        self._free = n
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    @contextlib.asynccontextmanager
    async def held(self, *, urgent: bool) -> AsyncIterator[None]:
        if self._free and not any(self._waiting):
            self._free -= 1
        else:
            queue = self._waiting[0 if urgent else 1]
            turn = asyncio.get_running_loop().create_future()
            queue.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # handed a slot just as we were cancelled: pass it on
                else:
                    with contextlib.suppress(ValueError):
                        queue.remove(turn)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in self._waiting:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the slot passes straight to the next in line
                    return
        self._free += 1


def retry_delay(attempts: int) -> timedelta:
    """Not-processed errors: at once for the first three tries, then backing off to a minute."""
    return timedelta(0) if attempts <= 3 else timedelta(seconds=min(60, 2 ** (attempts - 3)))
