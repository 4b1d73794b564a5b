"""Monthly reports for an area subtree: the visit rate and its parts, by child area, organisation or volunteer.

The rate is always `care.visit_rate`'s definition; the totals row is counted from `reports.register` (the month's
register, counted once and shared by the page). The CLI and the dashboard use these functions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import in_subtree
from carevisit.care.month_close import final_from, in_grace
from carevisit.care.visit_rate import VisitRate, eligible_elders_filter
from carevisit.reports.register import RegisterRow, register_counts, register_rate
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Area, Elder, Organisation, Visit, Volunteer
from carevisit.storage.types import UTCDateTime


class ReportBy(StrEnum):
    AREA = "area"
    ORGANISATION = "organisation"
    VOLUNTEER = "volunteer"


@dataclass
class Counts:
    elders: int = 0  # on the register (by area) or served this month (by organisation/volunteer)
    consenting: int = 0  # of those, active and consenting: the rate's denominator
    visited: int = 0  # of those, with a completed visit this month: the numerator
    planned: int = 0  # visits of the month, not cancelled
    done: int = 0
    on_time: int = 0  # done within the window (and before the deadline, for extra visits)
    missed: int = 0
    unassigned: int = 0  # still planned, with no volunteer

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def rate(self) -> VisitRate:
        return VisitRate(eligible=self.consenting, visited=self.visited)


@dataclass
class ReportRow:
    code: str
    name: str
    counts: Counts
    last_activity: datetime | None = None  # the latest completed visit of the month (UTC)


@dataclass
class Report:
    month: str
    area: Area
    by: ReportBy
    rows: list[ReportRow]
    total: ReportRow
    zone: ZoneInfo  # times in exports are local


def late_confirmations_note(month: str, *, today: date) -> str | None:
    """What a reader of `month`'s report must know on the 1st of the next: it can still change today."""
    if not in_grace(month, today=today):
        return None
    final = final_from(month)
    return f"{month} 的探访今天内仍可补确认（计入 {month}），数据自 {final.month}月{final.day}日 起为最终数据。"


UNASSIGNED_CODE = "-"
NO_ORGANISATION_CODE = "0"


async def monthly_report(session: AsyncSession, *, month: str, area: Area, by: ReportBy, zone: ZoneInfo) -> Report:
    return (await monthly_reports(session, month=month, area=area, zone=zone, by=(by,)))[by]


async def monthly_reports(
    session: AsyncSession,
    *,
    month: str,
    area: Area,
    zone: ZoneInfo,
    by: tuple[ReportBy, ...] = tuple(ReportBy),
    register: list[RegisterRow] | None = None,
) -> dict[ReportBy, Report]:
    """The month's report broken down each way asked; the headline figures and the on-time rule are read once.

    `register`: the month's `register_counts` for `area`, when the caller has them (the page shares them)."""
    if register is None:
        register = await register_counts(session, month=month, area=area)
    on_time = await _on_time_condition(session, month=month, area=area, zone=zone)
    # The headline figures are `care.visit_rate`'s definition over the register; by area they equal the sums, by
    # visitor elders may be served by several volunteers, so the sums would count them twice.
    headline = register_rate(register)
    elders = sum(row.elders for row in register)
    # One scan of the month's visits serves the rows by area and by organisation (see `_visit_cells`).
    cells: dict[ReportBy, list[_VisitCell]] = {}
    for key_by in {ReportBy.VOLUNTEER if each == ReportBy.VOLUNTEER else ReportBy.ORGANISATION for each in by}:
        cells[key_by] = await _visit_cells(session, month=month, area=area, on_time=on_time, by=key_by)
    reports: dict[ReportBy, Report] = {}
    for each in by:
        if each == ReportBy.AREA:
            rows = await _by_area(session, area=area, register=register, cells=cells[ReportBy.ORGANISATION])
        else:
            rows = await _by_visitor(session, by=each, cells=cells[each])
        total = Counts()
        for row in rows:
            total.add(row.counts)
        total.consenting, total.visited, total.elders = headline.eligible, headline.visited, elders
        last = max((row.last_activity for row in rows if row.last_activity), default=None)
        reports[each] = Report(
            month=month, area=area, by=each, rows=rows, total=ReportRow(area.code, area.name, total, last), zone=zone
        )
    return reports


async def report_groups(session: AsyncSession, *, area: Area) -> list[Area]:
    """The areas a report by area has rows for: the children of `area`, or, where a level has a single child (one
    city, one district), the first level below with several. A community reports as itself."""
    groups = [area]
    while len(groups) == 1:
        children = list(
            (await session.exec(select(Area).where(Area.parent_id == groups[0].id).order_by(col(Area.code)))).all()
        )
        if not children:
            break
        groups = children
    return groups


def _elder_in(area: Area) -> ColumnElement[bool]:
    return col(Elder.community_id).in_(select(Area.id).where(in_subtree(area)))


async def _on_time_condition(session: AsyncSession, *, month: str, area: Area, zone: ZoneInfo) -> ColumnElement[bool]:
    """Done before the end (local midnight) of the visit's last window day, and before any deadline.

    The cut-off depends on the local zone, which SQL does not know; windows end on at most a few dozen distinct
    days, so each day's UTC cut-off is passed in a CASE.
    """
    days = (
        await session.exec(
            select(Visit.window_end).where(col(Visit.month) == month, col(Visit.status) == VisitStatus.DONE).distinct()
        )
    ).all()
    if not days:
        return literal(False)
    cutoff = case(
        {day: literal(datetime.combine(day + timedelta(days=1), time(0), zone), UTCDateTime) for day in days},
        value=col(Visit.window_end),
    )
    return and_(
        col(Visit.status) == VisitStatus.DONE,
        col(Visit.done_at) < cutoff,
        or_(col(Visit.deadline_at).is_(None), col(Visit.done_at) <= col(Visit.deadline_at)),
    )


def _visit_sums(on_time: ColumnElement[bool]) -> list[Any]:
    def count_if(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    return [
        count_if(col(Visit.status) != VisitStatus.CANCELLED),
        count_if(col(Visit.status) == VisitStatus.DONE),
        count_if(on_time),
        count_if(col(Visit.status) == VisitStatus.MISSED),
        count_if(and_(col(Visit.status) == VisitStatus.PLANNED, col(Visit.volunteer_id).is_(None))),
    ]


def _fill_visits(counts: Counts, planned: Any, done: Any, on_time: Any, missed: Any, unassigned: Any) -> None:
    counts.planned += int(planned or 0)
    counts.done += int(done or 0)
    counts.on_time += int(on_time or 0)
    counts.missed += int(missed or 0)
    counts.unassigned += int(unassigned or 0)


async def _community_groups(session: AsyncSession, *, area: Area, groups: list[Area]) -> dict[int, int]:
    """Each community of the subtree: the id of the report group holding it, found by walking its path's prefixes
    (a few dict look-ups each, where comparing every community with every group grew as their product)."""
    by_path = {g.path: g.id or 0 for g in groups}
    communities = await session.exec(select(Area.id, Area.path).where(in_subtree(area)))
    found: dict[int, int] = {}
    for community_id, path in communities.all():
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            group = by_path.get("/" + "/".join(parts[:depth]) + "/")
            if group is not None and community_id is not None:
                found[community_id] = group
                break
    return found


async def _by_area(
    session: AsyncSession, *, area: Area, register: list[RegisterRow], cells: list[_VisitCell]
) -> list[ReportRow]:
    groups = await report_groups(session, area=area)
    group_of = await _community_groups(session, area=area, groups=groups)
    per_group: dict[int, Counts] = {g.id or 0: Counts() for g in groups}
    for row in register:
        if (key := group_of.get(row.community_id)) is not None:
            per_group[key].elders += row.elders
            if row.eligible:
                per_group[key].consenting += row.elders
                per_group[key].visited += row.visited
    last: dict[int, datetime | None] = {}
    for cell in cells:
        if (key := group_of.get(cell.community_id)) is not None:
            c = cell.counts
            _fill_visits(per_group[key], c.planned, c.done, c.on_time, c.missed, c.unassigned)
            last[key] = _later(last.get(key), cell.last)
    return [ReportRow(g.code, g.name, per_group[g.id or 0], last.get(g.id or 0)) for g in groups]


def _later(one: datetime | None, other: datetime | None) -> datetime | None:
    return other if one is None or (other is not None and other > one) else one


def _last_done() -> Any:
    """The latest completion among the grouped visits (NULL when none is done)."""
    return func.max(case((col(Visit.status) == VisitStatus.DONE, col(Visit.done_at))), type_=UTCDateTime)


@dataclass
class _VisitCell:
    """The month's visits of one community's elders by one visitor key (a volunteer, or an organisation)."""

    community_id: int
    key: int  # -1: nobody assigned; 0: a volunteer of no organisation
    counts: Counts  # elders, consenting, visited: distinct elders of the cell
    last: datetime | None


async def _visit_cells(
    session: AsyncSession, *, month: str, area: Area, on_time: ColumnElement[bool], by: ReportBy
) -> list[_VisitCell]:
    """By organisation: grouped by community and organisation; an elder lives in one community, so the cells'
    distinct elders add up to each organisation's without counting anyone twice, and the cells' visits add up to
    each area's. By volunteer: grouped by volunteer only (community 0), as no area rows are made from them and a
    volunteer's elders are spread over many communities."""
    who = func.coalesce(col(Visit.done_by_volunteer_id), col(Visit.volunteer_id))
    if by == ReportBy.VOLUNTEER:
        key: Any = func.coalesce(who, -1)
        community: Any = literal(0)
    else:
        key = case((who.is_(None), -1), else_=func.coalesce(col(Volunteer.organisation_id), 0))
        community = col(Elder.community_id)
    eligible = eligible_elders_filter()
    statement = (
        select(
            community,
            key,
            func.count(func.distinct(Visit.elder_id)),
            func.count(func.distinct(case((eligible, Visit.elder_id)))),
            func.count(func.distinct(case((and_(eligible, col(Visit.status) == VisitStatus.DONE), Visit.elder_id)))),
            _last_done(),
            *_visit_sums(on_time),
        )
        .join(Elder, col(Elder.id) == col(Visit.elder_id))
        .outerjoin(Volunteer, col(Volunteer.id) == who)
        .where(col(Visit.month) == month, _elder_in(area))
        .group_by(*([key] if by == ReportBy.VOLUNTEER else [community, key]))
    )
    cells = []
    for community_id, group, elders, consenting, visited, done_at, *sums in (await session.exec(statement)).all():
        counts = Counts(elders=int(elders), consenting=int(consenting), visited=int(visited))
        _fill_visits(counts, *sums)
        cells.append(_VisitCell(int(community_id), int(group), counts, done_at))
    return cells


async def _by_visitor(session: AsyncSession, *, by: ReportBy, cells: list[_VisitCell]) -> list[ReportRow]:
    per_key: dict[int, Counts] = defaultdict(Counts)
    last: dict[int, datetime | None] = {}
    for cell in cells:
        per_key[cell.key].add(cell.counts)
        last[cell.key] = _later(last.get(cell.key), cell.last)
    labels = await _labels(session, by=by, keys=[k for k in per_key if k > 0])
    rows = [ReportRow(*labels[k], per_key[k], last.get(k)) for k in sorted(k for k in per_key if k > 0)]
    rows.sort(key=lambda row: row.code)
    if 0 in per_key:
        rows.append(ReportRow(NO_ORGANISATION_CODE, "（无所属组织）", per_key[0], last.get(0)))
    if -1 in per_key:
        rows.append(ReportRow(UNASSIGNED_CODE, "（未分配）", per_key[-1], last.get(-1)))
    return rows


async def _labels(session: AsyncSession, *, by: ReportBy, keys: list[int]) -> dict[int, tuple[str, str]]:
    """Names (and roster ids) of the rows' volunteers or organisations, a batch at a time: a district can have tens
    of thousands of volunteers, more than SQLite takes parameters in one statement."""
    labels: dict[int, tuple[str, str]] = {}
    for start in range(0, len(keys), _LABEL_BATCH):
        batch = keys[start : start + _LABEL_BATCH]
        if by == ReportBy.VOLUNTEER:
            rows = await session.exec(
                select(Volunteer.id, Volunteer.external_id, Volunteer.name).where(col(Volunteer.id).in_(batch))
            )
            labels.update({vid: (external_id, name) for vid, external_id, name in rows.all() if vid is not None})
        else:
            orgs = await session.exec(select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(batch)))
            labels.update({oid: (str(oid), name) for oid, name in orgs.all() if oid is not None})
    return labels


_LABEL_BATCH = 500
