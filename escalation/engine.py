"""The escalation engine: a periodic cycle (tests call `run_cycle` directly after moving the clock).

Each cycle takes the open incidents whose `next_step_at` has come, plans their next step with the pure
`decide.plan_next`, writes one outbox row per page (unique key incident:step:target:channel) and advances the
incident — all in one transaction, guarded by the step it read, so a replayed or concurrent run changes nothing.
The outbox worker sends the rows. A crash before the commit loses nothing: the incident is still due.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from care import audit, outbound
from escalation import texts
from escalation.context import Escalation
from escalation.decide import Page, StepPlan, Target, plan_next, throttled
from escalation.policy import from_snapshot
from escalation.targets import contact_targets, coordinator_targets
from escalation.tokens import AckToken
from storage.enums import Channel, DeliveryStatus, IncidentStatus
from storage.models import Area, Elder, Incident, OutboxMessage, Volunteer

log = logging.getLogger(__name__)


async def run_cycle(esc: Escalation, *, limit: int = 200) -> int:
    """Run the due step of every due open incident; returns how many incidents advanced."""
    now = esc.clock.now()
    async with esc.sessions() as session:
        due = await session.exec(
            select(Incident.id)
            .where(Incident.status == IncidentStatus.OPEN, col(Incident.next_step_at) <= now)
            .order_by(col(Incident.next_step_at))
            .limit(limit)
        )
        ids = [i for i in due.all() if i is not None]
    advanced = 0
    for incident_id in ids:
        if await escalate(esc, incident_id=incident_id):
            advanced += 1
    return advanced


async def escalate(esc: Escalation, *, incident_id: int) -> bool:
    """Run one incident's due step in its own transaction. False if it was not due (or another run won)."""
    now = esc.clock.now()
    async with esc.sessions() as session:
        incident = await session.get(Incident, incident_id)
        if (
            incident is None
            or incident.status != IncidentStatus.OPEN
            or incident.next_step_at is None
            or incident.next_step_at > now
        ):
            return False
        elder = await session.get(Elder, incident.elder_id)
        assert elder is not None
        policy = from_snapshot(incident.policy)
        contacts = await contact_targets(session, elder_id=elder.id or 0)
        coordinators = await coordinator_targets(session, elder=elder)
        plan = plan_next(policy, step=incident.step, contacts=contacts, coordinators=coordinators)
        if plan.repeat and incident.is_drill:
            return await _end_drill(esc, session, incident)
        facts = await _facts(session, incident, elder)
        for page in plan.pages:
            await _queue_page(esc, session, incident, plan, page, facts, now)
        await _tell_reporter(esc, session, incident, plan, contacts)
        guard = await session.exec(
            update(Incident)
            .where(
                col(Incident.id) == incident.id,
                col(Incident.step) == incident.step,
                col(Incident.status) == IncidentStatus.OPEN,
            )
            .values(step=plan.step + 1, next_step_at=now + plan.wait)
        )
        if not guard.rowcount:  # acknowledged or advanced meanwhile: write nothing
            await session.rollback()
            return False
        audit.record(
            session,
            clock=esc.clock,
            actor="system",
            action="incident.page",
            entity="incident",
            entity_id=incident.id,
            details={
                "step": plan.step + 1,
                "repeat": plan.repeat,
                "pages": [f"{p.target.kind}:{p.target.id}:{p.channel}" for p in plan.pages],
                "skipped": list(plan.skipped),
            },
        )
        await session.commit()
    log.info(
        "incident %s: step %s paged %d (skipped %d)", incident_id, plan.step + 1, len(plan.pages), len(plan.skipped)
    )
    return True


def page_key(incident_id: int, step: int, target: Target, channel: Channel) -> str:
    return f"page:{incident_id}:{step}:{target.kind}:{target.id}:{channel}"


async def _facts(session: AsyncSession, incident: Incident, elder: Elder) -> texts.PageFacts:
    volunteer = await session.get(Volunteer, incident.reporter_volunteer_id) if incident.reporter_volunteer_id else None
    community = await session.get(Area, elder.community_id)
    return texts.PageFacts(
        elder=elder.name,
        kind="drill" if incident.is_drill else incident.kind,
        volunteer=volunteer.name if volunteer else "",
        volunteer_phone=_national(volunteer.phone) if volunteer and volunteer.phone else "",
        drill=incident.is_drill,
        community=community.name if community else "",
    )


def _national(e164: str) -> str:
    return e164[3:] if e164.startswith("+86") else e164


async def _queue_page(
    esc: Escalation,
    session: AsyncSession,
    incident: Incident,
    plan: StepPlan,
    page: Page,
    facts: texts.PageFacts,
    now: datetime,
) -> None:
    assert incident.id is not None
    target = page.target
    language = texts.language_of(target.language, esc.language)
    link = esc.ack_link(AckToken(incident.id, target.kind, target.id))
    key = page_key(incident.id, plan.step, target, page.channel)
    n = plan.step + 1
    if page.channel == Channel.TELEGRAM:
        body = texts.coordinator_page(language, facts, n=n, link=link or "/incidents")
        await outbound.enqueue(session, clock=esc.clock, key=key, chat_id=target.chat_id or 0, text=body)
        return
    if page.channel == Channel.SMS:
        hhmm = now.astimezone(esc.zone).strftime("%H:%M")
        body = texts.page_sms(language, facts, n=n, hhmm=hhmm, link=link)
    else:
        body = texts.page_voice(language, facts)
    row = OutboxMessage(
        idempotency_key=key,
        purpose="drill" if incident.is_drill else "page",
        incident_id=incident.id,
        step=plan.step,
        contact_id=target.id if target.kind == "contact" else None,
        coordinator_id=target.id if target.kind == "coordinator" else None,
        channel=page.channel,
        to_address=page.address,
        body=body,
        not_before=now,
        created_at=now,
    )
    if await _over_cap(esc, session, page.channel, page.address, now):
        row.status = DeliveryStatus.CANCELED
        row.status_rank = DeliveryStatus.CANCELED.rank
        row.error_code = "throttled"
        row.error_message = "per-number cap reached; not sent"
    await add_outbox_row(session, row)


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


async def _over_cap(esc: Escalation, session: AsyncSession, channel: Channel, address: str, now: datetime) -> bool:
    throttle = esc.config.throttle
    count = await session.exec(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.to_address == address,
            OutboxMessage.channel == channel,
            col(OutboxMessage.created_at) > now - throttle.period,
            func.coalesce(OutboxMessage.error_code, "") != "throttled",
        )
    )
    return throttled(already=int(count.one()), cap=throttle.cap(channel))


async def _tell_reporter(
    esc: Escalation, session: AsyncSession, incident: Incident, plan: StepPlan, contacts: list[Target]
) -> None:
    """Tell the reporting volunteer, in the bot, whom this step paged."""
    volunteer = await session.get(Volunteer, incident.reporter_volunteer_id) if incident.reporter_volunteer_id else None
    if volunteer is None or volunteer.telegram_chat_id is None:
        return
    language = texts.language_of(volunteer.language, esc.language)
    if plan.pages:
        names = list(dict.fromkeys(p.target.label for p in plan.pages))
        body = texts.text(language, "reporter_paged", incident=incident.id, targets="、".join(names), n=plan.step + 1)
    else:
        body = texts.text(language, "reporter_nobody", incident=incident.id)
    await outbound.enqueue(
        session,
        clock=esc.clock,
        key=f"incident:{incident.id}:paged:{plan.step}:volunteer:{volunteer.id}",
        chat_id=volunteer.telegram_chat_id,
        text=body,
    )
    if not contacts and plan.step == 0:
        log.warning("incident %s: the elder has no emergency contact", incident.id)


async def _end_drill(esc: Escalation, session: AsyncSession, incident: Incident) -> bool:
    """A drill is not repeated forever: once every step ran unacknowledged it closes, marked as such."""
    now = esc.clock.now()
    guard = await session.exec(
        update(Incident)
        .where(col(Incident.id) == incident.id, col(Incident.status) == IncidentStatus.OPEN)
        .values(status=IncidentStatus.RESOLVED, resolved_at=now, resolved_by="system", next_step_at=None)
    )
    if not guard.rowcount:
        return False
    audit.record(
        session,
        clock=esc.clock,
        actor="system",
        action="drill.unacknowledged",
        entity="incident",
        entity_id=incident.id,
    )
    await session.commit()
    return True
