"""Family visit reports: after a confirmed visit (or monthly, to keep SMS cost down), a short SMS to the
emergency contacts who opted in. STOP/退订 clears the opt-in (see `acks.opt_out`).

A report says what the visit found, as the checklist recorded it — a hazard ticked on a "well" visit is in the
community's referral queue, and the family hears "发现问题，社区已跟进" — but never what the problem is: no health
details by SMS."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.confirmations import CONCERN
from carevisit.care.month_close import final_from
from carevisit.care.phones import can_sms
from carevisit.escalation import texts
from carevisit.escalation.engine import add_outbox_row
from carevisit.escalation.notices import Notice
from carevisit.storage.enums import Channel, VisitOutcome, VisitStatus
from carevisit.storage.models import Elder, EmergencyContact, OutboxMessage, Visit, Volunteer

_FINDINGS = {"well": "status_well", "problem": "status_problem", "urgent": "status_urgent"}


def visit_finding(visit: Visit) -> str:
    """What a family hears a visit found: "urgent" (an emergency, handled), "problem" (a concern ticked on the
    checklist or a problem visit: each is in the referral queue) or "well"."""
    if visit.outcome == VisitOutcome.URGENT:
        return "urgent"
    if visit.outcome == VisitOutcome.PROBLEM or CONCERN in (visit.checklist or {}).values():
        return "problem"
    return "well"


async def queue_family_reports(
    session: AsyncSession,
    *,
    clock: Clock,
    mode: str,
    zone: ZoneInfo,
    language: str,
    lookback: timedelta = timedelta(days=3),
) -> int:
    """Queue the reports due under `mode` ("each_visit", "monthly", "off"); idempotent by key. Does not commit."""
    if mode == "each_visit":
        return await _per_visit(session, clock=clock, zone=zone, language=language, since=clock.now() - lookback)
    if mode == "monthly":
        return await _digests(session, clock=clock, zone=zone, language=language)
    return 0


async def _opted_in(session: AsyncSession, elder_ids: list[int]) -> dict[int, list[EmergencyContact]]:
    rows = await session.exec(
        select(EmergencyContact).where(
            col(EmergencyContact.elder_id).in_(elder_ids),
            col(EmergencyContact.sms_opt_in).is_(True),
            col(EmergencyContact.opted_out_at).is_(None),
            col(EmergencyContact.removed_at).is_(None),
        )
    )
    found: dict[int, list[EmergencyContact]] = {}
    for contact in rows.all():
        if can_sms(contact.phone_kind):
            found.setdefault(contact.elder_id, []).append(contact)
    return found


def _row(key: str, contact: EmergencyContact, notice: Notice, now: datetime) -> OutboxMessage:
    return OutboxMessage(
        idempotency_key=key,
        purpose="family_report",
        contact_id=contact.id,
        channel=Channel.SMS,
        to_address=contact.phone,
        body=notice.text,
        notice_kind=notice.kind,
        notice_params=notice.params,
        not_before=now,
        created_at=now,
    )


async def _per_visit(session: AsyncSession, *, clock: Clock, zone: ZoneInfo, language: str, since: datetime) -> int:
    visits = (
        await session.exec(
            select(Visit, Elder)
            .join(Elder, col(Elder.id) == col(Visit.elder_id))
            .where(Visit.status == VisitStatus.DONE, col(Visit.done_at) >= since)
        )
    ).all()
    if not visits:
        return 0
    contacts = await _opted_in(session, [elder.id or 0 for _, elder in visits])
    now = clock.now()
    queued = 0
    for visit, elder in visits:
        volunteer_id = visit.done_by_volunteer_id or visit.volunteer_id
        volunteer = await session.get(Volunteer, volunteer_id) if volunteer_id else None
        for contact in contacts.get(elder.id or 0, []):
            lang = texts.language_of(contact.language, language)
            day = visit.done_at.astimezone(zone).strftime("%m-%d") if visit.done_at else ""
            params = {
                "date": day,
                "volunteer": volunteer.name if volunteer else "",
                "name": elder.name,
                "finding": texts.text(lang, _FINDINGS[visit_finding(visit)]),
            }
            body = texts.text(
                lang,
                "family_visit",
                date=day,
                volunteer=params["volunteer"],
                elder=elder.name,
                status=params["finding"],
            )
            notice = Notice("visit_report", params, body)
            if await add_outbox_row(
                session, _row(f"family:visit:{visit.id}:contact:{contact.id}", contact, notice, now)
            ):
                queued += 1
    return queued


async def _digests(session: AsyncSession, *, clock: Clock, zone: ZoneInfo, language: str) -> int:
    """Last month's digest, once per contact, queued on the first run once the month is final (the 2nd): on the
    1st its visits can still be confirmed, and a digest then would leave them out."""
    today = local_today(clock, zone)
    month = month_of(today.replace(day=1) - timedelta(days=1))
    if today < final_from(month):
        return 0
    counts = (
        await session.exec(
            select(Visit.elder_id, func.count(), func.max(Visit.done_at))
            .where(Visit.month == month, Visit.status == VisitStatus.DONE)
            .group_by(col(Visit.elder_id))
        )
    ).all()
    if not counts:
        return 0
    contacts = await _opted_in(session, [elder_id for elder_id, _, _ in counts])
    now = clock.now()
    queued = 0
    for elder_id, count, last in counts:
        elder = await session.get(Elder, elder_id)
        for contact in contacts.get(elder_id, []):
            lang = texts.language_of(contact.language, language)
            last_day = last.astimezone(zone).strftime("%m-%d") if isinstance(last, datetime) else str(last or "")
            params = {"month": month[5:].lstrip("0"), "name": elder.name if elder else "", "count": str(count)}
            params["date"] = last_day
            body = texts.text(
                lang, "family_digest", month=params["month"], elder=params["name"], count=count, date=last_day
            )
            notice = Notice("monthly_report", params, body)
            if await add_outbox_row(session, _row(f"family:digest:{month}:contact:{contact.id}", contact, notice, now)):
                queued += 1
    return queued
