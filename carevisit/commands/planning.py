"""`carevisit plan`, `carevisit visits …` and `carevisit report`: planning and reports by hand."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.table import Table
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care.clock import local_today, month_of
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.policies import visit_policy
from carevisit.reports.export import terminal_table, to_csv, to_xlsx
from carevisit.reports.monthly import Report, ReportBy, late_confirmations_note, monthly_report
from carevisit.scheduler.extra_visits import ExtraOrder, ExtraVisitError, order_extra_visits
from carevisit.scheduler.months import BadMonth, month_bounds
from carevisit.scheduler.planning import MonthOver, PlanSummary, generate_month
from carevisit.scheduler.reassignment import (
    ReassignResult,
    VolunteerNotFound,
    deactivate_volunteer,
    find_volunteer,
    reassign_open_visits,
)
from carevisit.scheduler.visit_policy import PolicyError
from carevisit.storage.enums import ElderClass, VisitMode
from carevisit.storage.models import Area, Elder

visits_app = typer.Typer(help="Extra visits and reassignment.", no_args_is_help=True)


class _Refused(Exception):
    """A bad argument found once the database is open; printed, nothing changed."""


def _month_or_exit(month: str | None, rt: Runtime) -> str:
    if month is None:
        return month_of(local_today(rt.clock, rt.settings.zone))
    try:
        month_bounds(month)
    except BadMonth as error:
        raise _Refused(str(error)) from None
    return month.strip()


def _run(work):  # type: ignore[no-untyped-def]
    """Run `work(rt)`; a refusal prints its reason and exits 2 with nothing changed."""

    async def guarded(rt: Runtime):  # type: ignore[no-untyped-def]
        try:
            return await work(rt)
        except (_Refused, BadMonth, MonthOver, PolicyError, ExtraVisitError, VolunteerNotFound) as error:
            return _Refused(_message(error))

    result = run_with_runtime(guarded)
    if isinstance(result, _Refused):
        errors.print(f"[bold red]{result}[/]")
        raise typer.Exit(2)
    return result


def _message(error: Exception) -> str:
    if isinstance(error, VolunteerNotFound):
        return f"no volunteer {error.args[0]!r}"
    return str(error)


async def _area(session: AsyncSession, code: str | None) -> Area:
    if code is not None:
        area = (await session.exec(select(Area).where(Area.code == code))).first()
        if area is None:
            raise _Refused(f"no area with code {code!r}")
        return area
    roots = list((await session.exec(select(Area).where(col(Area.parent_id).is_(None)))).all())
    if len(roots) != 1:
        raise _Refused("choose an area with --area CODE")
    return roots[0]


def plan(
    month: str = typer.Option(None, help="Month to plan, YYYY-MM (default: this month, local time)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be planned; write nothing."),
) -> None:
    """Plan a month's visits for every eligible elder and assign volunteers (safe to repeat)."""

    async def work(rt: Runtime) -> PlanSummary:
        policy = visit_policy(rt.settings.visit_policy_file)
        return await generate_month(
            rt.sessions,
            clock=rt.clock,
            zone=rt.settings.zone,
            policy=policy,
            month=_month_or_exit(month, rt),
            dry_run=dry_run,
        )

    summary: PlanSummary = _run(work)
    title = f"Plan for {summary.month}" + (" (dry run: nothing written)" if summary.dry_run else "")
    console.print(f"[bold]{title}[/] — policy {summary.policy_version}")
    console.print(
        f"elders planned: {summary.elders_planned}   already planned: {summary.already_planned}   "
        f"visits {'to create' if summary.dry_run else 'created'}: {summary.visits_created}"
    )
    modes = ", ".join(f"{mode} {count}" for mode, count in sorted(summary.by_mode.items())) or "none"
    console.print(f"visits by mode: {modes}")
    console.print(
        f"not visited: {summary.not_consenting} without consent, {summary.paused} paused or not yet enrolled, "
        f"{summary.left} left (moved, deceased, withdrew)"
    )
    colour = "bold yellow" if summary.unassigned_total else "green"
    console.print(f"[{colour}]unassigned visits this month: {summary.unassigned_total}[/]")


_WITHIN = re.compile(r"^(\d+)\s*([mhd])$")


def _deadline(within: str | None, deadline: str | None, rt: Runtime) -> datetime:
    zone: ZoneInfo = rt.settings.zone
    if (within is None) == (deadline is None):
        raise _Refused("give exactly one of --within (e.g. 24h, 3d) or --deadline 'YYYY-MM-DD HH:MM'")
    if within is not None:
        match = _WITHIN.match(within.strip().lower())
        if not match:
            raise _Refused(f"--within {within!r}: write a number and m, h or d, e.g. 24h")
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return rt.clock.now() + timedelta(**{unit: int(match.group(1))})
    try:
        return datetime.strptime(str(deadline).strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        raise _Refused(f"--deadline {deadline!r}: write it as 'YYYY-MM-DD HH:MM' (local time)") from None


@visits_app.command("extra")
def extra(
    reason: str = typer.Option(..., help="Why: discharged from hospital, bereavement, fall, heat wave, festival…"),
    elder: list[str] = typer.Option(None, help="An elder's roster id (编号); repeat for several."),
    area: str = typer.Option(None, help="Every eligible elder of this area's subtree (with --class to narrow)."),
    elder_class: list[str] = typer.Option(
        None,
        "--class",
        help=f"Only elders in this class; repeat for any of several: {', '.join(c.name.lower() for c in ElderClass)}.",  # type: ignore[union-attr]
    ),
    within: str = typer.Option(None, help="Deadline from now: 24h, 3d, 90m."),
    deadline: str = typer.Option(None, help="Deadline as local time, 'YYYY-MM-DD HH:MM'."),
    mode: VisitMode = typer.Option(VisitMode.HOME, help="Visit mode."),
) -> None:
    """Order an extra visit with a deadline for some elders, or for every elder of a class in an area."""

    async def work(rt: Runtime) -> ExtraOrder:
        if not elder and area is None:
            raise _Refused("choose --elder ID (repeatable) or --area CODE")
        classes = ElderClass(0)
        for name in elder_class or []:
            try:
                classes |= ElderClass[name.upper()]
            except KeyError:
                raise _Refused(f"unknown class {name!r}") from None
        due = _deadline(within, deadline, rt)
        async with rt.sessions() as session:
            elder_ids = None
            if elder:
                found = dict(
                    (
                        await session.exec(select(Elder.external_id, Elder.id).where(col(Elder.external_id).in_(elder)))
                    ).all()
                )
                missing = [e for e in elder if e not in found]
                if missing:
                    raise _Refused(f"no elder with roster id {', '.join(missing)}")
                elder_ids = [found[e] for e in elder if found[e] is not None]
            order = await order_extra_visits(
                session,
                clock=rt.clock,
                zone=rt.settings.zone,
                deadline=due,
                reason=reason,
                actor="cli",
                mode=mode,
                elder_ids=elder_ids,
                area=await _area(session, area) if area else None,
                classes=classes or None,
            )
            await session.commit()
        return order

    order: ExtraOrder = _run(work)
    console.print(
        f"extra visits ordered: {len(order.visits)} ({order.unassigned} unassigned); skipped: "
        f"{order.skipped_not_eligible} not eligible, {order.skipped_already_ordered} already ordered"
    )


@visits_app.command("reassign")
def reassign(
    month: str = typer.Option(None, help="Month, YYYY-MM (default: this month)."),
    area: str = typer.Option(None, help="Only this area's subtree."),
    deactivate: str = typer.Option(
        None, help="First deactivate this volunteer (roster id) and hand over their visits."
    ),
) -> None:
    """Give unassigned visits, and those of inactive volunteers, a volunteer; list what is still unassigned."""

    async def work(rt: Runtime) -> ReassignResult:
        chosen = _month_or_exit(month, rt)
        async with rt.sessions() as session:
            if deactivate:
                volunteer = await find_volunteer(session, key=deactivate)
                result = await deactivate_volunteer(
                    session, clock=rt.clock, volunteer_id=volunteer.id or 0, month=chosen, actor="cli"
                )
            else:
                scope = await _area(session, area) if area else None
                result = await reassign_open_visits(session, clock=rt.clock, month=chosen, area=scope, actor="cli")
            await session.commit()
        return result

    result: ReassignResult = _run(work)
    console.print(f"{result.month}: {result.reassigned} visits reassigned, {len(result.unassigned)} still unassigned")
    if result.unassigned:
        listing = Table("visit", "elder", "mode", "window")
        for visit, elder_row in result.unassigned[:200]:
            listing.add_row(
                str(visit.id), elder_row.external_id, str(visit.mode), f"{visit.window_start} – {visit.window_end}"
            )
        console.print(listing)


def report(
    month: str = typer.Option(None, help="Month, YYYY-MM (default: this month)."),
    area: str = typer.Option(None, help="Area code (default: the top area)."),
    by: ReportBy = typer.Option(ReportBy.AREA, help="Break down by child area, organisation or volunteer."),
    output_format: str = typer.Option("table", "--format", help="table, csv or xlsx."),
    output: Path = typer.Option(None, help="Write to this file (required for xlsx)."),
) -> None:
    """The monthly visit rate and its parts for an area subtree."""
    if output_format not in ("table", "csv", "xlsx"):
        errors.print("[bold red]--format must be table, csv or xlsx[/]")
        raise typer.Exit(2)
    if output_format == "xlsx" and output is None:
        errors.print("[bold red]xlsx needs --output FILE[/]")
        raise typer.Exit(2)

    async def work(rt: Runtime) -> tuple[Report, str | None]:
        chosen = _month_or_exit(month, rt)
        async with rt.sessions() as session:
            scope = await _area(session, area)
            found = await monthly_report(session, month=chosen, area=scope, by=by, zone=rt.settings.zone)
        return found, late_confirmations_note(chosen, today=local_today(rt.clock, rt.settings.zone))

    result, note = _run(work)
    if note:  # on stderr, so a CSV on stdout stays clean
        errors.print(f"[yellow]{note}[/]")
    if output_format == "xlsx":
        output.write_bytes(to_xlsx(result))
        console.print(f"wrote {output}")
    elif output_format == "csv":
        text = to_csv(result)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}")
    else:
        console.print(_terminal(result))


def _terminal(result: Report) -> Table:
    """Fits 80 columns: few borders, figures right-aligned, a long name wraps in its own column."""
    lines = terminal_table(result)
    shown = Table(
        title=f"{result.total.name} {result.month} 月探访率 {result.total.counts.rate.percent}",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    shown.add_column(lines[0][0], overflow="fold", min_width=8, ratio=1)
    for head in lines[0][1:]:
        shown.add_column(head, justify="right", no_wrap=True)
    for line in lines[1:]:
        shown.add_row(*line)
    return shown
