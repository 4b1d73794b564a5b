"""What Aliyun and Tencent push back — delivery receipts, call states, key presses, SMS replies — matched to the
pages we sent, once each.

Neither cloud signs its pushes, so nothing in one is believed for itself:

- it must arrive at `/pager/<provider>/<callback secret>/<push type>` (the secret is in the URL only the provider
  was told; anything else under /pager/ is 404 and changes nothing);
- each signal must match a page we sent: a status the row whose provider id (or our own reference, echoed back)
  it names, to the same number; a key press a call we placed, to the callee it names, within the call's lifetime;
- duplicates are dropped (both clouds document duplicated and missing receipts), by a receipt key in the
  database, so several processes agree;
- a key press stops an escalation only once the provider's query API confirms that the call was placed to that
  callee and answered (`PushingPager.confirms_calls`; Aliyun). Tencent has no such pull: its key press is matched
  only. The evidence (call id, key) goes into the incident's timeline.

A forged "pressed 1" — wrong call id, wrong number, too late, a call never answered — changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import NotAllowed
from carevisit.care.phones import mask_phone
from carevisit.escalation import acks, receipts
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import PAGE_PURPOSES, record_status
from carevisit.escalation.pager import PagerError, PushingPager, Signal, pushing
from carevisit.storage.enums import Channel, DeliveryStatus
from carevisit.storage.models import OutboxMessage

log = logging.getLogger(__name__)

# A key press counts only this long after its call was placed: a call rings for a minute and speaks for two;
# pushes come late, but not hours late.
CALL_LIFETIME = timedelta(minutes=30)
ANSWERED = frozenset({DeliveryStatus.IN_PROGRESS, DeliveryStatus.COMPLETED})


class NotConfirmedYet(Exception):
    """The provider could not be asked about a call now: the push is answered with an error, so it comes again."""


@dataclass(frozen=True, slots=True)
class Handled:
    """What one push did, for logs and tests."""

    applied: int = 0
    duplicates: int = 0
    unmatched: int = 0
    acknowledged: int = 0


ESCALATION = web.AppKey("pager_pushes", Escalation)


def add_routes(app: web.Application, esc: Escalation) -> None:
    app[ESCALATION] = esc
    app.router.add_route("*", "/pager/{provider}/{secret}/{push}", on_push)


async def on_push(request: web.Request) -> web.StreamResponse:
    esc = request.app[ESCALATION]
    pager = pushing(esc.pager)
    push = request.match_info["push"]
    if (
        request.method != "POST"
        or pager is None
        or request.match_info["provider"] != pager.name
        or not _secret_matches(esc.callback_secret, request.match_info["secret"])
        or push not in pager.push_types
    ):
        log.warning("refused a push to /pager/%s/…/%s", request.match_info["provider"][:20], push[:40])
        raise web.HTTPNotFound()
    try:
        signals = pager.parse_push(push, await request.read())
    except ValueError as error:
        log.warning("%s push %s not understood: %s", pager.name, push, error)
        raise web.HTTPBadRequest(text="not understood") from None
    try:
        handled = await handle(esc, pager, signals)
    except NotConfirmedYet:
        raise web.HTTPServiceUnavailable(text="try again") from None
    log.info("%s push %s: %s", pager.name, push, handled)
    return web.json_response(pager.push_answer())


def _secret_matches(expected: str | None, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())


async def handle(esc: Escalation, pager: PushingPager, signals: list[Signal]) -> Handled:
    """Apply a push's signals, each in its own transaction (one bad signal does not undo the others)."""
    applied = duplicates = unmatched = acknowledged = 0
    for signal in signals:
        async with esc.sessions() as session:
            try:
                outcome = await _apply(session, esc, pager, signal)
                await session.commit()
            except IntegrityError:  # the same push delivered twice at once: the other delivery applied it
                await session.rollback()
                outcome = "duplicate"
        applied += outcome in ("applied", "acknowledged")
        acknowledged += outcome == "acknowledged"
        duplicates += outcome == "duplicate"
        unmatched += outcome == "unmatched"
    return Handled(applied, duplicates, unmatched, acknowledged)


async def _apply(session: AsyncSession, esc: Escalation, pager: PushingPager, signal: Signal) -> str:
    if signal.kind == "reply":
        return await _reply(session, esc, pager, signal)
    row = await _row_of(session, pager, signal)
    if row is None:
        log.info("%s %s signal matches no page to %s; ignored", pager.name, signal.kind, mask_phone(signal.to))
        return "unmatched"
    if signal.kind == "status" and signal.status is not None:
        if not await receipts.first_time(session, clock=esc.clock, key=_key(pager, signal, row)):
            return "duplicate"
        await record_status(
            session,
            clock=esc.clock,
            outbox_id=row.id or 0,
            status=signal.status,
            sid=signal.sid if not row.provider_sid else None,
            error_code=signal.error_code,
        )
        return "applied"
    if signal.kind == "key":
        return await _key_press(session, esc, pager, signal, row)
    return "unmatched"


async def _row_of(session: AsyncSession, pager: PushingPager, signal: Signal) -> OutboxMessage | None:
    """The page a signal is about: by the provider's id, else by our reference echoed back (a receipt may beat the
    send's answer, or follow a reconciliation that could not learn the provider's id) — always to the number the
    signal names. A key press that names no number (Aliyun's VoiceCallReport) is matched by its call id alone
    only where the provider's record of the call is then asked who the callee was (`_confirmed`)."""
    row = None
    if signal.sid:
        found = await session.exec(select(OutboxMessage).where(OutboxMessage.provider_sid == signal.sid))
        row = found.first()
    if row is None and signal.kind == "status" and signal.reference and signal.reference.isdigit():
        row = await session.get(OutboxMessage, int(signal.reference)) if len(signal.reference) < 19 else None
    if row is None:
        return None
    if row.to_address == signal.to or (signal.kind == "key" and not signal.to and pager.confirms_calls):
        return row
    return None


async def _key_press(
    session: AsyncSession, esc: Escalation, pager: PushingPager, signal: Signal, row: OutboxMessage
) -> str:
    now = esc.clock.now()
    placed = row.sent_at or row.sending_started_at or row.created_at
    if (
        row.channel != Channel.VOICE
        or row.purpose not in PAGE_PURPOSES
        or row.provider_sid is None
        or signal.sid != row.provider_sid
        or not _within(placed, now)
    ):
        log.warning("%s key press for outbox %s refused: not a live page call", pager.name, row.id)
        return "unmatched"
    if signal.key != "1":
        return "applied"  # another key: heard, acknowledges nothing
    if pager.confirms_calls and not await _confirmed(pager, row):
        log.warning("%s key press for outbox %s refused: the provider does not confirm the call", pager.name, row.id)
        return "unmatched"
    if not await receipts.first_time(session, clock=esc.clock, key=_key(pager, signal, row)):
        return "duplicate"
    evidence = {"call_id": row.provider_sid, "key": signal.key, **signal.evidence}
    try:
        outcome = await acks.by_keypress(
            session, clock=esc.clock, outbox_id=row.id or 0, language=esc.language, evidence=evidence
        )
    except NotAllowed:  # a page to a coordinator who has since become read-only
        return "unmatched"
    return "acknowledged" if outcome.won else "applied"


def _within(placed: datetime, now: datetime) -> bool:
    return placed - timedelta(minutes=1) <= now <= placed + CALL_LIFETIME


async def _confirmed(pager: PushingPager, row: OutboxMessage) -> bool:
    """The provider's own record: the call exists, went to this callee and was answered."""
    try:
        record = await pager.lookup(channel=Channel.VOICE, sid=row.provider_sid or "")
    except PagerError as error:
        log.warning("%s: cannot confirm a call now (%s)", pager.name, error.code)
        raise NotConfirmedYet from error
    return record is not None and record.to == row.to_address and record.status in ANSWERED


async def _reply(session: AsyncSession, esc: Escalation, pager: PushingPager, signal: Signal) -> str:
    """An SMS reply: matched by number and time (`acks.by_reply`), an extra signal beside the call and the code."""
    if not signal.text:
        return "unmatched"
    if not await receipts.first_time(session, clock=esc.clock, key=_key(pager, signal, None)):
        return "duplicate"
    outcome = await acks.by_reply(
        session, clock=esc.clock, from_number=signal.to, body=signal.text, language=esc.language
    )
    return "acknowledged" if outcome.acknowledged else "applied"


def _key(pager: PushingPager, signal: Signal, row: OutboxMessage | None) -> str:
    """The receipt key that makes a signal count once: a status once per row and status, a key press once per
    call, a reply once per number, time and text."""
    if signal.kind == "status":
        return f"{pager.name}:status:{row.id if row else signal.sid}:{signal.status}"
    if signal.kind == "key":
        return f"{pager.name}:key:{signal.sid}"
    stamp = signal.at.isoformat() if signal.at else ""
    digest = hmac.new(b"reply", f"{signal.to}|{stamp}|{signal.text}".encode(), "sha256").hexdigest()[:32]
    return f"{pager.name}:reply:{digest}"
