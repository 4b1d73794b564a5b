"""Through the month: each volunteer's daily digest, overdue notices to coordinators, and month-end missed marking.

Messages go to `chat_outbox` through `care.outbound.enqueue` with a key per day and recipient, so a job that runs
twice, or again after a restart, queues nothing twice. Only people with a linked Telegram chat get messages.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import outbound
from carevisit.care.clock import Clock, local_today
from carevisit.care.month_close import oldest_open_month
from carevisit.care.people import chat_recipient, reachable
from carevisit.care.ports import Button, Recipient
from carevisit.care.visit_queries import is_overdue
from carevisit.scheduler.reminder_texts import MAX_LINES, day_text, language_or_default, mode_text, name, t
from carevisit.storage.enums import VisitKind, VisitStatus
from carevisit.storage.models import Area, Coordinator, Elder, Visit, Volunteer

log = logging.getLogger(__name__)

# The digest's button: the bot answers it with the volunteer's visit list (bot/handlers/visits.py).
OPEN_VISITS = "visits:open"


@dataclass(frozen=True, slots=True)
class DigestResult:
    volunteers: int  # volunteers with something due and a linked chat
    queued: int  # messages newly queued (0 on a rerun the same day)


async def queue_daily_digests(
    session: AsyncSession, *, clock: Clock, zone: ZoneInfo, language: str, horizon_days: int = 3
) -> DigestResult:
    """One message per volunteer: their overdue visits and those closing within `horizon_days`. Does not commit."""
    today = local_today(clock, zone)
    rows = await session.exec(
        select(Visit, Elder.name, Volunteer)
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .join(Volunteer, col(Volunteer.id) == col(Visit.volunteer_id))
        .where(
            col(Visit.status) == VisitStatus.PLANNED,
            col(Volunteer.active).is_(True),
            reachable(Volunteer),
            col(Visit.window_start) <= today,
            or_(col(Visit.window_end) <= today + timedelta(days=horizon_days), col(Visit.deadline_at).is_not(None)),
        )
        .order_by(col(Volunteer.id), col(Visit.window_end), col(Visit.id))
    )
    by_volunteer: dict[int, list[tuple[Visit, str]]] = defaultdict(list)
    chats: dict[int, tuple[Recipient, str]] = {}
    for visit, elder_name, volunteer in rows.all():
        assert volunteer.id is not None
        to = chat_recipient(volunteer)
        assert to is not None  # `reachable` above
        by_volunteer[volunteer.id].append((visit, elder_name))
        chats[volunteer.id] = (to, language_or_default(volunteer.language, language))
    queued = 0
    for volunteer_id, visits in by_volunteer.items():
        to, lang = chats[volunteer_id]
        text = digest_text(lang, today=today, visits=visits, zone=zone)
        button = Button(t(lang, "digest.open"), OPEN_VISITS)
        key = f"digest:{today.isoformat()}:volunteer:{volunteer_id}"
        if await outbound.enqueue(session, clock=clock, key=key, to=to, text=text, buttons=((button,),)):
            queued += 1
    log.info("daily digests for %s: %d volunteers, %d queued", today, len(by_volunteer), queued)
    return DigestResult(volunteers=len(by_volunteer), queued=queued)


def digest_text(language: str, *, today: date, visits: list[tuple[Visit, str]], zone: ZoneInfo) -> str:
    overdue = [(v, n) for v, n in visits if _overdue(v, today, zone)]
    due = [(v, n) for v, n in visits if not _overdue(v, today, zone)]
    lines = [t(language, "digest.title", day=day_text(language, today))]
    for header, group in (("digest.overdue", overdue), ("digest.due", due)):
        if not group:
            continue
        lines.append(t(language, header, n=len(group)))
        lines.extend(_visit_line(language, v, n, zone) for v, n in group[:MAX_LINES])
        if len(group) > MAX_LINES:
            lines.append(t(language, "more", n=len(group) - MAX_LINES))
    lines.append(t(language, "digest.footer"))
    return "\n".join(lines)


def _due_day(visit: Visit, zone: ZoneInfo) -> date:
    return visit.deadline_at.astimezone(zone).date() if visit.deadline_at else visit.window_end


def _overdue(visit: Visit, today: date, zone: ZoneInfo) -> bool:
    return visit.window_end < today or (
        visit.deadline_at is not None and visit.deadline_at.astimezone(zone).date() < today
    )


def _visit_line(language: str, visit: Visit, elder_name: str, zone: ZoneInfo) -> str:
    line = t(
        language,
        "digest.line",
        name=name(elder_name),
        mode=mode_text(language, visit.mode),
        until=day_text(language, _due_day(visit, zone)),
    )
    if visit.kind == VisitKind.EXTRA and visit.reason:
        line += t(language, "digest.extra", reason=name(visit.reason))
    return line


@dataclass(frozen=True, slots=True)
class OverdueResult:
    visits: int  # newly overdue visits found
    coordinators: int  # coordinators told
    unreachable_areas: int  # communities whose overdue visits have no coordinator with a linked chat


async def notify_overdue(session: AsyncSession, *, clock: Clock, zone: ZoneInfo, language: str) -> OverdueResult:
    """Tell the nearest coordinators of each community about visits newly overdue, once each. Does not commit."""
    today = local_today(clock, zone)
    now = clock.now()
    rows = list(
        (
            await session.exec(
                select(Visit, Elder.name, Area)
                .join(Elder, col(Elder.id) == col(Visit.elder_id))
                .join(Area, col(Area.id) == col(Elder.community_id))
                .where(is_overdue(today=today, now=now), col(Visit.overdue_notified_at).is_(None))
                .order_by(col(Visit.window_end), col(Visit.id))
            )
        ).all()
    )
    if not rows:
        return OverdueResult(0, 0, 0)
    coordinators = list(
        (
            await session.exec(
                select(Coordinator, Area)
                .join(Area, col(Area.id) == col(Coordinator.area_id))
                .where(col(Coordinator.active).is_(True), reachable(Coordinator))
            )
        ).all()
    )
    volunteer_ids = {v.volunteer_id for v, _, _ in rows if v.volunteer_id is not None}
    volunteer_names = dict(
        (await session.exec(select(Volunteer.id, Volunteer.name).where(col(Volunteer.id).in_(volunteer_ids)))).all()
    )
    per_coordinator: dict[int, list[tuple[Visit, str, Area]]] = defaultdict(list)
    unreachable: set[int] = set()
    for visit, elder_name, community in rows:
        nearest = _nearest_coordinators(community, coordinators)
        if not nearest:
            unreachable.add(community.id or 0)
        for coordinator in nearest:
            per_coordinator[coordinator.id or 0].append((visit, elder_name, community))
        visit.overdue_notified_at = now
        session.add(visit)
    by_id = {c.id: c for c, _ in coordinators}
    for coordinator_id, items in per_coordinator.items():
        coordinator = by_id[coordinator_id]
        lang = language_or_default(coordinator.language, language)
        lines = [t(lang, "overdue.title", day=day_text(lang, today), n=len(items))]
        for visit, elder_name, community in items[:MAX_LINES]:
            volunteer = volunteer_names.get(visit.volunteer_id or -1)
            lines.append(
                t(
                    lang,
                    "overdue.line",
                    name=name(elder_name),
                    community=name(community.name),
                    mode=mode_text(lang, visit.mode),
                    until=day_text(lang, _due_day(visit, zone)),
                    volunteer=name(volunteer) if volunteer else t(lang, "overdue.unassigned"),
                )
            )
        if len(items) > MAX_LINES:
            lines.append(t(lang, "more", n=len(items) - MAX_LINES))
        digest = hashlib.sha256(",".join(str(v.id) for v, _, _ in items).encode()).hexdigest()[:16]
        to = chat_recipient(coordinator)
        assert to is not None  # `reachable` above
        await outbound.enqueue(
            session,
            clock=clock,
            key=f"overdue:{today.isoformat()}:coordinator:{coordinator_id}:{digest}",
            to=to,
            text="\n".join(lines),
        )
    log.info(
        "overdue: %d visits, %d coordinators told, %d areas unreachable",
        len(rows),
        len(per_coordinator),
        len(unreachable),
    )
    return OverdueResult(len(rows), len(per_coordinator), len(unreachable))


def _nearest_coordinators(community: Area, coordinators: list[tuple[Coordinator, Area]]) -> list[Coordinator]:
    """The coordinators of the deepest area containing the community (its own, else its street, else …)."""
    containing = [(area.path, c) for c, area in coordinators if community.path.startswith(area.path)]
    if not containing:
        return []
    deepest = max(len(path) for path, _ in containing)
    return [c for path, c in containing if len(path) == deepest]


async def mark_missed(session: AsyncSession, *, clock: Clock, zone: ZoneInfo) -> int:
    """Visits of closed months that were never confirmed become missed; they stay on record. A month closes once
    the first day of the next is over (`care.month_close`): on the 1st last month's visits can still be confirmed.
    No commit."""
    oldest_open = oldest_open_month(local_today(clock, zone))
    result = await session.exec(
        update(Visit)
        .where(col(Visit.status) == VisitStatus.PLANNED, col(Visit.month) < oldest_open)
        .values(status=VisitStatus.MISSED, updated_at=clock.now())
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    log.info("month end: %d visits before %s marked missed", count, oldest_open)
    return count
