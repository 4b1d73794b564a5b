"""Extra visits on demand (加密探访): after a discharge, a bereavement or a fall, or for a whole class of elders in an
area during a heat wave, a cold snap or a festival. Planned, assigned and reminded like any other visit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.areas import in_subtree
from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.visit_rate import eligible_elders_filter
from carevisit.scheduler.volunteer_loads import last_month_volunteers, load_assigner, volunteers_of_elders
from carevisit.storage.enums import ElderClass, VisitKind, VisitMode, VisitStatus
from carevisit.storage.models import EXTRA_SLOT_BASE, UNPLANNED_SLOT_BASE, Area, Elder, Visit


class ExtraVisitError(ValueError):
    """The order cannot be carried out; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class ExtraPreview:
    """What an order would do, counted before anyone confirms it."""

    elders: int  # chosen by the selection
    visits: int  # that many new visits (eligible, and no open visit for the same reason)
    not_eligible: int
    already_ordered: int


@dataclass
class ExtraOrder:
    visits: list[Visit] = field(default_factory=list)
    skipped_not_eligible: int = 0  # not consenting, paused, moved, deceased
    skipped_already_ordered: int = 0  # an open extra visit with the same reason exists

    @property
    def unassigned(self) -> int:
        return sum(v.volunteer_id is None for v in self.visits)


async def order_extra_visits(
    session: AsyncSession,
    *,
    clock: Clock,
    zone: ZoneInfo,
    deadline: datetime,
    reason: str,
    actor: str,
    mode: VisitMode = VisitMode.HOME,
    elder_ids: list[int] | None = None,
    area: Area | None = None,
    classes: ElderClass | None = None,
) -> ExtraOrder:
    """One extra visit for each elder given by id, or for every eligible elder of `area` in any of `classes`.

    The visit is due today (local) until `deadline`. Ordering the same reason again for an elder who still has
    that extra visit open adds nothing. Raises ExtraVisitError for a past deadline or an empty selection.
    Does not commit.
    """
    now = clock.now()
    if deadline.tzinfo is None:
        raise ExtraVisitError("the deadline needs a time zone")
    if deadline <= now:
        raise ExtraVisitError("the deadline has already passed")
    reason = reason.strip()
    if not reason:
        raise ExtraVisitError("give a reason (e.g. discharged from hospital, heat wave)")
    if elder_ids is None and area is None:
        raise ExtraVisitError("choose elders, or an area (and optionally classes)")
    statement = select(Elder).where(*_selection(elder_ids=elder_ids, area=area, classes=classes))
    chosen = list((await session.exec(statement.order_by(col(Elder.id)))).all())
    if elder_ids is not None and len(chosen) != len(set(elder_ids)):
        raise ExtraVisitError("no such elder")
    eligible = set(
        (
            await session.exec(
                select(Elder.id).where(col(Elder.id).in_([e.id for e in chosen]), eligible_elders_filter())
            )
        ).all()
    )
    order = ExtraOrder()
    today = local_today(clock, zone)
    month = month_of(today)
    open_same = set(
        (
            await session.exec(
                select(Visit.elder_id).where(
                    col(Visit.kind) == VisitKind.EXTRA,
                    col(Visit.status) == VisitStatus.PLANNED,
                    col(Visit.reason) == reason,
                    col(Visit.elder_id).in_(list(eligible)),
                )
            )
        ).all()
    )
    targets = []
    for elder in chosen:
        if elder.id not in eligible:
            order.skipped_not_eligible += 1
        elif elder.id in open_same:
            order.skipped_already_ordered += 1
        else:
            targets.append(elder)
    if not targets:
        return order
    ids = [e.id for e in targets if e.id is not None]
    next_slot = dict(
        (
            await session.exec(
                select(Visit.elder_id, func.max(Visit.slot))
                .where(
                    col(Visit.month) == month,
                    col(Visit.elder_id).in_(ids),
                    col(Visit.slot) > EXTRA_SLOT_BASE,
                    col(Visit.slot) <= UNPLANNED_SLOT_BASE,  # the unplanned visits' range is theirs
                )
                .group_by(col(Visit.elder_id))
            )
        ).all()
    )
    assigner = await load_assigner(session, month=month, communities={e.community_id for e in targets})
    current = await volunteers_of_elders(session, month=month, elder_ids=ids)
    familiar = await last_month_volunteers(session, month=month, first_elder_id=min(ids), last_elder_id=max(ids))
    window_end = max(today, deadline.astimezone(zone).date())
    for elder in targets:
        volunteer_id = assigner.pick(
            community_id=elder.community_id, preferred=(current.get(elder.id), familiar.get(elder.id))
        )
        visit = Visit(
            elder_id=elder.id,  # type: ignore[arg-type]
            month=month,
            slot=(next_slot.get(elder.id) or EXTRA_SLOT_BASE) + 1,
            kind=VisitKind.EXTRA,
            mode=mode,
            window_start=today,
            window_end=window_end,
            deadline_at=deadline,
            reason=reason[:300],
            status=VisitStatus.PLANNED,
            volunteer_id=volunteer_id,
            assigned_at=now if volunteer_id is not None else None,
            created_at=now,
            updated_at=now,
        )
        session.add(visit)
        order.visits.append(visit)
    await session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="visits.extra",
        entity="visit",
        details={"visits": [v.id for v in order.visits], "deadline": deadline.isoformat()},
    )
    return order


def _selection(*, elder_ids: list[int] | None, area: Area | None, classes: ElderClass | None) -> list[Any]:
    """The elders an order is for: the one selection both the preview and the order use."""
    conditions: list[Any] = []
    if elder_ids is not None:
        conditions.append(col(Elder.id).in_(elder_ids))
    if area is not None:
        conditions.append(col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))))
    if classes:
        conditions.append(Elder.classes.op("&")(int(classes)) != 0)  # type: ignore[attr-defined]
    return conditions


async def preview_extra_visits(
    session: AsyncSession,
    *,
    reason: str,
    elder_ids: list[int] | None = None,
    area: Area | None = None,
    classes: ElderClass | None = None,
) -> ExtraPreview:
    """Count what `order_extra_visits` with the same selection and reason would order, with SQL aggregates only
    (an area-wide order may cover a district's elders). Changes nothing."""
    if elder_ids is None and area is None:
        raise ExtraVisitError("choose elders, or an area (and optionally classes)")
    selected = _selection(elder_ids=elder_ids, area=area, classes=classes)
    count = select(func.count()).select_from(Elder).where(*selected)
    elders = int((await session.exec(count)).one())
    eligible = int((await session.exec(count.where(eligible_elders_filter()))).one())
    open_same = select(Visit.elder_id).where(
        col(Visit.kind) == VisitKind.EXTRA,
        col(Visit.status) == VisitStatus.PLANNED,
        col(Visit.reason) == reason.strip(),
    )
    already = int((await session.exec(count.where(eligible_elders_filter(), col(Elder.id).in_(open_same)))).one())
    return ExtraPreview(
        elders=elders, visits=eligible - already, not_eligible=elders - eligible, already_ordered=already
    )
