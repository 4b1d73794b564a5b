"""The escalation engine: a periodic cycle (tests call `run_cycle` directly after moving the clock).

Each cycle takes the open incidents whose `next_step_at` has come, plans each one's next step with the pure
`decide.plan_next`, writes one outbox row per page (unique key incident:step:target:channel) and advances the
incident — in one transaction, every advance guarded by the step it read, so a replayed or concurrent run changes
nothing. The outbox worker sends the rows. A crash before the commit loses nothing: the incidents are still due.

Due incidents are handled as a batch (bulk loads and inserts): 200 emergencies opened at once must not wait for
each other's round trips. Any number of processes may run cycles: each claims its due incidents for the length of
its transaction (`claims.claim_due_incidents`: FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite).
If a batch still meets a conflict (an incident changed under it) it is rolled back and each incident is run on
its own.
"""

from __future__ import annotations

import html
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.people import chat_recipient
from carevisit.care.ports import Recipient
from carevisit.escalation import ack_codes, texts
from carevisit.escalation.claims import LeasedRow, claim_due_incidents, leased_rows_by_key
from carevisit.escalation.context import Escalation
from carevisit.escalation.decide import Page, StepPlan, Target, plan_next, round_of, throttled
from carevisit.escalation.notices import Notice, VoiceScript
from carevisit.escalation.page_notices import limit_refusals, page_notice
from carevisit.escalation.policy import EscalationPolicy, from_snapshot
from carevisit.escalation.targets import contact_targets_by_elder, coordinator_targets_for
from carevisit.escalation.tokens import AckToken
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import (
    Area,
    AuditEntry,
    ChatOutboxMessage,
    Coordinator,
    Elder,
    Incident,
    OutboxMessage,
    Volunteer,
)

log = logging.getLogger(__name__)


class _Conflict(Exception):
    """Another run touched one of the batch's incidents: roll back and go one by one."""


class Sender(Protocol):
    """The outbox worker of this process, when the engine hands it the pages it writes (see `run_cycle`)."""

    worker_id: str
    lease: timedelta

    def adopt(self, rows: list[LeasedRow]) -> None: ...


async def run_cycle(esc: Escalation, *, limit: int = 500, sender: Sender | None = None) -> int:
    """Run the due step of every due open incident; returns how many incidents advanced.

    With `sender` (the loops of one process pass their worker) the SMS and call rows are written already
    claimed — `sending`, leased to that worker, committed with the step — and handed to it after the commit, so
    the first pages of a flood need no claim of their own. Without it they are written pending for any worker."""
    now = esc.clock.now()
    async with esc.writing() as session:
        due = await claim_due_incidents(session, now=now, limit=limit)
        if not due:
            await session.commit()  # ends the claim (SQLite may hold its write lock for it)
            return 0
        ids = [incident.id or 0 for incident in due]
        try:
            advanced, leased = await _escalate(esc, session, due, now, sender)
            await session.commit()
        except _Conflict:
            await session.rollback()
            log.info("engine batch of %d met a concurrent run; going one by one", len(ids))
        else:
            if sender is not None and leased:
                sender.adopt(leased)
            return advanced
    advanced = 0
    for incident_id in ids:
        if await escalate(esc, incident_id=incident_id, sender=sender):
            advanced += 1
    return advanced


async def escalate(esc: Escalation, *, incident_id: int, sender: Sender | None = None) -> bool:
    """Run one incident's due step in its own transaction. False if it was not due (or another run won)."""
    now = esc.clock.now()
    async with esc.writing() as session:
        claimed = await claim_due_incidents(session, now=now, limit=1, incident_id=incident_id)
        if not claimed:
            await session.commit()
            return False
        incident = claimed[0]
        try:
            advanced, leased = await _escalate(esc, session, [incident], now, sender)
        except _Conflict:
            await session.rollback()
            return False
        await session.commit()
    if sender is not None and leased:
        sender.adopt(leased)
    return advanced == 1


_POLICIES: dict[str, EscalationPolicy] = {}


def policy_of(frozen: dict[str, Any]) -> EscalationPolicy:
    """The policy frozen into an incident; the few distinct ones are parsed once, not once per incident."""
    key = repr(frozen)
    policy = _POLICIES.get(key)
    if policy is None:
        if len(_POLICIES) > 64:  # policies change rarely; never let this grow without bound
            _POLICIES.clear()
        policy = _POLICIES[key] = from_snapshot(frozen)
    return policy


def page_key(incident_id: int, step: int, target: Target, channel: Channel) -> str:
    return f"page:{incident_id}:{step}:{target.kind}:{target.id}:{channel}"


@dataclass
class _World:
    """Everything a batch of incidents needs, loaded in a few queries."""

    elders: dict[int, Elder]
    contacts: dict[int, list[Target]]
    coordinators: dict[int, list[Target]]
    volunteers: dict[int, Volunteer]
    areas: dict[int, Area]
    reporters: dict[int, Coordinator]  # coordinators who opened an incident themselves (a drill, a call they took)


async def _load(session: AsyncSession, incidents: list[Incident]) -> _World:
    elder_ids = {i.elder_id for i in incidents}
    elders = {e.id or 0: e for e in (await session.exec(select(Elder).where(col(Elder.id).in_(elder_ids)))).all()}
    volunteer_ids = {i.reporter_volunteer_id for i in incidents if i.reporter_volunteer_id}
    volunteers = (
        {
            v.id or 0: v
            for v in (await session.exec(select(Volunteer).where(col(Volunteer.id).in_(volunteer_ids)))).all()
        }
        if volunteer_ids
        else {}
    )
    coordinator_ids = {i.reporter_coordinator_id for i in incidents if i.reporter_coordinator_id}
    reporters = (
        {
            c.id or 0: c
            for c in (await session.exec(select(Coordinator).where(col(Coordinator.id).in_(coordinator_ids)))).all()
        }
        if coordinator_ids
        else {}
    )
    community_ids = {e.community_id for e in elders.values()}
    areas = {a.id or 0: a for a in (await session.exec(select(Area).where(col(Area.id).in_(community_ids)))).all()}
    return _World(
        elders=elders,
        contacts=await contact_targets_by_elder(session, elder_ids=list(elder_ids)),
        coordinators={cid: await coordinator_targets_for(session, community=area) for cid, area in areas.items()},
        volunteers=volunteers,
        areas=areas,
        reporters=reporters,
    )


async def _escalate(
    esc: Escalation, session: AsyncSession, incidents: list[Incident], now: datetime, sender: Sender | None
) -> tuple[int, list[LeasedRow]]:
    world = await _load(session, incidents)
    plans: list[tuple[Incident, StepPlan]] = []
    for incident in incidents:
        elder = world.elders[incident.elder_id]
        plan = plan_next(
            policy_of(incident.policy),
            step=incident.step,
            contacts=world.contacts.get(incident.elder_id, []),
            coordinators=world.coordinators.get(elder.community_id, []),
        )
        plans.append((incident, plan))
    await _advance(session, plans, now)
    paging = [(i, p) for i, p in plans if not (p.repeat and i.is_drill)]
    outbox_rows, chats, audits = await _rows(esc, session, world, paging, now)
    if sender is not None:
        _lease_to(sender, outbox_rows, now)
    audits += [
        _audit(now, "system", "drill.unacknowledged", incident.id, None)
        for incident, plan in plans
        if plan.repeat and incident.is_drill
    ]
    leased: list[LeasedRow] = []
    try:
        # Core inserts of the tables (plain executemany): the ORM's bulk path would fetch every new id back.
        if outbox_rows:
            await session.exec(insert(OutboxMessage.__table__), params=outbox_rows)  # type: ignore[attr-defined]
        handed = [r["idempotency_key"] for r in outbox_rows if r["status"] == DeliveryStatus.SENDING]
        if handed:  # read back by key (an executemany with RETURNING goes row by row on SQLite)
            leased = await leased_rows_by_key(session, handed)
        if chats:
            await session.exec(insert(ChatOutboxMessage.__table__), params=chats)  # type: ignore[attr-defined]
        if audits:
            await session.exec(insert(AuditEntry.__table__), params=audits)  # type: ignore[attr-defined]
    except IntegrityError:
        raise _Conflict from None
    for incident, plan in paging:
        if not plan.pages:
            log.warning("incident %s: nobody reachable to page; kept open and retried", incident.id)
        log.info(
            "incident %s: step %s paged %d (skipped %d)", incident.id, plan.step + 1, len(plan.pages), len(plan.skipped)
        )
    return len(plans), leased


def _lease_to(sender: Sender, rows: list[dict[str, Any]], now: datetime) -> None:
    """Write the pages already claimed by this process's worker: durable as `sending` before any provider call,
    exactly as its own claim would leave them. Throttled rows stay as they are (not sent)."""
    for row in rows:
        if row["status"] == DeliveryStatus.PENDING:
            row.update(
                status=DeliveryStatus.SENDING,
                status_rank=DeliveryStatus.SENDING.rank,
                sending_started_at=now,
                attempts=1,
                lease_owner=sender.worker_id,
                lease_until=now + sender.lease,
            )


async def _advance(session: AsyncSession, plans: list[tuple[Incident, StepPlan]], now: datetime) -> None:
    """Move every incident to its next step, each guarded by the step it was read at; raise _Conflict if any
    guard fails. Incidents moving alike (same step, same next time: most of a batch) share one statement."""
    groups: dict[tuple[int, int, datetime | None, bool], list[int]] = defaultdict(list)
    for incident, plan in plans:
        ends = plan.repeat and incident.is_drill  # a drill is not repeated forever: it closes, marked as such
        next_at = None if ends else now + plan.wait
        groups[(incident.step, plan.step + 1, next_at, ends)].append(incident.id or 0)
    for (old_step, new_step, next_at, ends), ids in groups.items():
        values: dict[str, Any] = (
            {"status": IncidentStatus.RESOLVED, "resolved_at": now, "resolved_by": "system", "next_step_at": None}
            if ends
            else {"step": new_step, "next_step_at": next_at}
        )
        moved = await session.exec(
            update(Incident)
            .where(
                col(Incident.id).in_(ids),
                col(Incident.step) == old_step,
                col(Incident.status) == IncidentStatus.OPEN,
            )
            .values(**values)
            .returning(col(Incident.id))
            .execution_options(synchronize_session=False)
        )
        if len(moved.all()) != len(ids):
            raise _Conflict


async def _rows(
    esc: Escalation,
    session: AsyncSession,
    world: _World,
    paging: list[tuple[Incident, StepPlan]],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The outbox rows, chat messages and audit entries for a batch's pages (keys already present are skipped)."""
    keys = {page_key(i.id or 0, p.step, page.target, page.channel) for i, p in paging for page in p.pages}
    existing = await _existing_keys(session, OutboxMessage, keys) | await _existing_keys(
        session, ChatOutboxMessage, keys
    )
    sent_recently = await _recent_counts(esc, session, paging, now)
    outbox_rows: list[dict[str, Any]] = []
    chats: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    hhmm = now.astimezone(esc.zone).strftime("%H:%M")
    codes = await _codes(esc, session, paging, existing, now)
    for incident, plan in paging:
        assert incident.id is not None
        facts = _facts(world, incident)
        round_ = round_of(policy_of(incident.policy), plan.step)
        for page in plan.pages:
            key = page_key(incident.id, plan.step, page.target, page.channel)
            if key in existing:
                continue
            language = texts.language_of(page.target.language, esc.language)
            link = None if page.channel == Channel.VOICE else _link(esc, incident.id, page.target)
            if page.channel == Channel.TELEGRAM:
                body = texts.coordinator_page(language, facts, round_=round_, link=link or "/incidents")
                if page.target.chat is not None:
                    chats.append(_chat(key, page.target.chat, body, now, link=link))
                continue
            notice = page_notice(
                language,
                facts,
                page,
                n=plan.step + 1,
                round_=round_,
                hhmm=hhmm,
                link=link,
                code=codes.get((incident.id, page.target.kind, page.target.id)),
            )
            capped = throttled(
                already=sent_recently[(page.address, page.channel)], cap=esc.config.throttle.cap(page.channel)
            )
            if not capped:
                sent_recently[(page.address, page.channel)] += 1
            outbox_rows.append(_outbox_row(key, incident, plan, page, notice, now, capped=capped))
        chat = _reporter_chat(esc, world, incident, plan, now)
        if chat is not None:
            chats.append(chat)
        audits.append(
            _audit(
                now,
                "system",
                "incident.page",
                incident.id,
                {
                    "step": plan.step + 1,
                    "repeat": plan.repeat,
                    "pages": [f"{p.target.kind}:{p.target.id}:{p.channel}" for p in plan.pages],
                    "skipped": list(plan.skipped),
                },
            )
        )
        if plan.step == 0 and not plan.repeat and (refusals := limit_refusals(policy_of(incident.policy), esc.limits)):
            audits.append(_audit(now, "system", "incident.limits", incident.id, {"refusals": refusals}))
    if chats:
        taken = await _existing_keys(session, ChatOutboxMessage, {c["idempotency_key"] for c in chats})
        chats = [c for c in chats if c["idempotency_key"] not in taken]
    return outbox_rows, chats, audits


async def _codes(
    esc: Escalation, session: AsyncSession, paging: list[tuple[Incident, StepPlan]], existing: set[str], now: datetime
) -> dict[tuple[int, str, int], str]:
    """The one-time codes of this batch's SMS pages, when the pager cannot carry a link (a domestic provider: no
    link in a template variable): the SMS names the fixed page `PUBLIC_URL/a` and carries the code."""
    if not (esc.codes_in_sms and esc.secret):
        return {}
    wanted = [
        (incident.id or 0, page.target.kind, page.target.id)
        for incident, plan in paging
        for page in plan.pages
        if page.channel == Channel.SMS
        and page_key(incident.id or 0, plan.step, page.target, page.channel) not in existing
    ]
    if not wanted:
        return {}
    return await ack_codes.codes_for_many(session, clock=esc.clock, secret=esc.secret, wanted=wanted)


def _link(esc: Escalation, incident_id: int, target: Target) -> str | None:
    """The acknowledgement link for a page's text (calls take a keypress instead)."""
    return esc.ack_link(AckToken(incident_id, target.kind, target.id))


def _outbox_row(
    key: str,
    incident: Incident,
    plan: StepPlan,
    page: Page,
    notice: Notice | VoiceScript,
    now: datetime,
    *,
    capped: bool,
) -> dict[str, Any]:
    target = page.target
    return {
        "idempotency_key": key,
        "purpose": "drill" if incident.is_drill else "page",
        "incident_id": incident.id,
        "step": plan.step,
        "contact_id": target.id if target.kind == "contact" else None,
        "coordinator_id": target.id if target.kind == "coordinator" else None,
        "channel": page.channel,
        "to_address": page.address,
        "body": notice.text,
        "notice_kind": notice.kind,
        "notice_params": notice.params,
        "status": DeliveryStatus.CANCELED if capped else DeliveryStatus.PENDING,
        "status_rank": DeliveryStatus.CANCELED.rank if capped else DeliveryStatus.PENDING.rank,
        "error_code": "throttled" if capped else None,
        "error_message": "per-number cap reached; not sent" if capped else None,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "sending_started_at": None,
        "lease_owner": None,
        "lease_until": None,
    }


def _chat(key: str, to: Recipient, text: str, now: datetime, *, link: str | None = None) -> dict[str, Any]:
    # The same row `care.outbound.enqueue` writes, in bulk. Chat text is HTML: names are escaped.
    return {
        "idempotency_key": key,
        "channel": to.channel,
        "recipient": to.id,
        "text": html.escape(text, quote=False),
        "buttons": None,
        "link": link if link and link.startswith(("http", "/")) else None,  # a URL, or a path of ours
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }


def _audit(
    now: datetime, actor: str, action: str, incident_id: int | None, details: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "at": now,
        "actor": actor,
        "action": action,
        "entity": "incident",
        "entity_id": incident_id,
        "details": details,
    }


def _facts(world: _World, incident: Incident) -> texts.PageFacts:
    elder = world.elders[incident.elder_id]
    volunteer = world.volunteers.get(incident.reporter_volunteer_id or 0)
    # Opened by a coordinator (a drill from the dashboard, an emergency they took by phone): they stand for the
    # volunteer in the page. Neither (a drill from the command line): `page_notice` says "community staff".
    reporter = volunteer or world.reporters.get(incident.reporter_coordinator_id or 0)
    community = world.areas.get(elder.community_id)
    return texts.PageFacts(
        elder=elder.name,
        kind="drill" if incident.is_drill else incident.kind,
        volunteer=(reporter.name or "") if reporter else "",
        volunteer_phone=_national(reporter.phone) if reporter and reporter.phone else "",
        drill=incident.is_drill,
        community=community.name if community else "",
    )


def _national(e164: str) -> str:
    return e164[3:] if e164.startswith("+86") else e164


def _reporter_chat(
    esc: Escalation, world: _World, incident: Incident, plan: StepPlan, now: datetime
) -> dict[str, Any] | None:
    """Tell the reporting volunteer, in the bot, whom this step paged."""
    volunteer = world.volunteers.get(incident.reporter_volunteer_id or 0)
    to = chat_recipient(volunteer) if volunteer is not None else None
    if volunteer is None or to is None:
        return None
    language = texts.language_of(volunteer.language, esc.language)
    if plan.pages:
        names = "、".join(dict.fromkeys(p.target.label for p in plan.pages))
        round_ = round_of(policy_of(incident.policy), plan.step)
        body = (
            texts.text(language, "reporter_repeat", incident=incident.id, targets=names, round=round_)
            if round_ > 1
            else texts.text(language, "reporter_paged", incident=incident.id, targets=names, n=plan.step + 1)
        )
    else:
        body = texts.text(language, "reporter_nobody", incident=incident.id)
    key = f"incident:{incident.id}:paged:{plan.step}:volunteer:{volunteer.id}"
    # The volunteer app's live status of this emergency: a path, which WeCom opens through its silent sign-in.
    return _chat(key, to, body, now, link=f"/v/incidents/{incident.id}")


async def _existing_keys(
    session: AsyncSession, model: type[OutboxMessage] | type[ChatOutboxMessage], keys: set[str]
) -> set[str]:
    if not keys:
        return set()
    column = col(model.idempotency_key)
    found = await session.exec(select(column).where(column.in_(list(keys))))
    return set(found.all())


async def _recent_counts(
    esc: Escalation, session: AsyncSession, paging: list[tuple[Incident, StepPlan]], now: datetime
) -> Counter[tuple[str, Channel]]:
    """Messages per (number, channel) in the throttle period, for the numbers this batch pages."""
    addresses = {p.address for _, plan in paging for p in plan.pages if p.channel != Channel.TELEGRAM}
    counts: Counter[tuple[str, Channel]] = Counter()
    if not addresses:
        return counts
    rows = await session.exec(
        select(OutboxMessage.to_address, OutboxMessage.channel, func.count())
        .where(
            col(OutboxMessage.to_address).in_(list(addresses)),
            col(OutboxMessage.created_at) > now - esc.config.throttle.period,
            func.coalesce(OutboxMessage.error_code, "") != "throttled",
        )
        .group_by(col(OutboxMessage.to_address), col(OutboxMessage.channel))
    )
    for address, channel, count in rows.all():
        counts[(address, Channel(channel))] = int(count)
    return counts


async def add_outbox_row(session: AsyncSession, row: OutboxMessage) -> bool:
    """Add a row unless its idempotency key exists; a savepoint keeps the caller's transaction usable."""
    existing = await session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == row.idempotency_key))
    if existing.first() is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True
