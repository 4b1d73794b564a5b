"""The coordinators' list of emergencies: open and acknowledged ones until handled, resolved ones by month, so a
handled emergency stays findable. Drills are listed too, marked as such. One page of rows and one count."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Area, Elder, Incident

LIMIT = 200


@dataclass(frozen=True, slots=True)
class IncidentList:
    rows: list[tuple[Incident, Elder]]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def month_span(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local month ("YYYY-MM") as a half-open UTC range."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _filters(
    area: Area, statuses: Collection[IncidentStatus], resolved_in: tuple[datetime, datetime] | None
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = [
        col(Incident.status).in_(list(statuses)),
        col(Elder.community_id).in_(select(Area.id).where(in_subtree(area))),
    ]
    if resolved_in is not None:
        start, end = resolved_in
        filters += [col(Incident.resolved_at) >= start, col(Incident.resolved_at) < end]
    return filters


async def incident_list(
    session: AsyncSession,
    *,
    area: Area,
    statuses: Collection[IncidentStatus],
    resolved_in: tuple[datetime, datetime] | None = None,
    limit: int = LIMIT,
) -> IncidentList:
    """Incidents of elders in `area`'s subtree with one of `statuses` (and, when given, resolved within
    `resolved_in`), newest first: the first `limit` and the count of all."""
    filters = _filters(area, statuses, resolved_in)
    statement = (
        select(Incident, Elder)
        .join(Elder, col(Elder.id) == col(Incident.elder_id))
        .where(*filters)
        .order_by(col(Incident.opened_at).desc(), col(Incident.id).desc())
        .limit(limit)
    )
    rows = [(incident, elder) for incident, elder in (await session.exec(statement)).all()]
    total = (
        len(rows)
        if len(rows) < limit
        else await count_incidents(session, area=area, statuses=statuses, resolved_in=resolved_in)
    )
    return IncidentList(rows=rows, total=total)


async def count_incidents(
    session: AsyncSession,
    *,
    area: Area,
    statuses: Collection[IncidentStatus],
    resolved_in: tuple[datetime, datetime] | None = None,
) -> int:
    statement = (
        select(func.count())
        .select_from(Incident)
        .join(Elder, col(Elder.id) == col(Incident.elder_id))
        .where(*_filters(area, statuses, resolved_in))
    )
    return int((await session.exec(statement)).one())
