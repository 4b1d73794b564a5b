"""`carevisit drill` and `carevisit incidents …`: test pages, the list of emergencies, their archive, resolving."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich import box
from rich.table import Table
from sqlmodel import col, select

from carevisit.bootstrap import Runtime
from carevisit.care.access import NotAllowed
from carevisit.commands import roster_ids
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.config import Settings
from carevisit.dashboard import display
from carevisit.dashboard.texts import translator
from carevisit.escalation import incidents as incident_service
from carevisit.escalation import timeline
from carevisit.escalation.config_file import PolicyFileError
from carevisit.policies import escalation_config
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import Elder, Incident

incidents_app = typer.Typer(help="Emergencies: list, archive (timeline), resolve.", no_args_is_help=True)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    CSV = "csv"


def drill(
    elder_key: str = typer.Argument(
        ...,
        metavar="ELDER_ID",
        help="the roster id (编号) — or the ID-card number, for a roster keyed by it — of the elder whose emergency "
        "contacts are to be tested",
    ),
    by: str = typer.Option("cli", help="who runs the drill (recorded)"),
) -> None:
    """Open a clearly marked test emergency: the running service pages the elder's contacts exactly as in a real
    one, and records who acknowledged — a dead number is found before an emergency finds it."""

    async def work(rt: Runtime) -> int | None:
        try:
            config = escalation_config(rt.settings)
        except PolicyFileError as error:
            errors.print(f"[bold red]{error}[/]")
            return None
        async with rt.sessions() as session:
            today = rt.clock.now().date()
            elder = await roster_ids.find_elder(session, elder_key, today=today)
            if elder is None or elder.id is None:
                known = roster_ids.shown(elder_key, today=today)
                errors.print(f"[bold red]No elder with roster id (编号) {known!r}; nothing was sent.[/]")
                return None
            incident = await incident_service.open_incident(
                session, clock=rt.clock, policy=config.policy, elder_id=elder.id, kind="drill", is_drill=True
            )
            incident_service.add_note(
                session, clock=rt.clock, incident_id=incident.id or 0, author=by, what_happened="drill started"
            )
            await session.commit()
            return incident.id

    incident_id = run_with_runtime(work)
    if incident_id is None:
        raise typer.Exit(1)
    console.print(
        f"[green]Drill #{incident_id} opened.[/] `carevisit run` pages the contacts now (marked as a drill); "
        f"see `carevisit incidents show {incident_id}` for who acknowledged."
    )


@incidents_app.command("list")
def list_incidents(
    all_: bool = typer.Option(False, "--all", help="also acknowledged and resolved ones"),
    limit: int = typer.Option(50, min=1),
) -> None:
    """Open emergencies (or all), newest first, in local time (CAREVISIT_TIMEZONE) and the configured language."""

    async def work(rt: Runtime) -> Table:
        t = translator(rt.settings.language)
        zone = rt.settings.zone
        async with rt.sessions() as session:
            query = (
                select(Incident, Elder.external_id)
                .join(Elder, col(Elder.id) == col(Incident.elder_id))
                .order_by(col(Incident.opened_at).desc())
                .limit(limit)
            )
            if not all_:
                query = query.where(Incident.status != IncidentStatus.RESOLVED)
            rows = (await session.exec(query)).all()
            # Fits 80 columns: the zone goes in the title, cells fold rather than lose their end.
            table = Table(title=t("show.cli.list_title").format(zone=zone.key), box=box.SIMPLE_HEAD)
            for heading in ("incident", "opened", "elder", "status"):  # read whole: a number, a time, a code, a word
                table.add_column(t(f"show.cli.{heading}"), no_wrap=True)
            table.add_column(t("show.cli.kind"), overflow="fold")
            table.add_column(t("show.cli.acknowledged_by"), overflow="fold")
            for incident, elder_key in rows:
                table.add_row(
                    f"#{incident.id}",  # the number `incidents show/ack/resolve` take
                    display.local_time(incident.opened_at, zone),
                    elder_key,
                    display.label(t, "incident_status", incident.status),
                    display.incident_kind(t, incident.kind, drill=incident.is_drill),
                    display.actor(t, await incident_service.describe_actor(session, incident.acknowledged_by))
                    if incident.acknowledged_by
                    else "",
                )
            return table

    console.print(run_with_runtime(work))


@incidents_app.command("show")
def show(
    incident_id: int,
    format_: Format = typer.Option(Format.TEXT, "--format", help="text, json or csv (for the archive)"),
) -> None:
    """The incident's full timeline: opened, every page and what became of it, acknowledgements, the handling
    record. Text and CSV are in local time (CAREVISIT_TIMEZONE); JSON keeps UTC and the codes, for programs."""

    async def work(rt: Runtime) -> tuple[list[timeline.Entry], Settings]:
        async with rt.sessions() as session:
            return await timeline.incident_timeline(session, incident_id=incident_id), rt.settings

    entries, settings = run_with_runtime(work)
    if not entries:
        errors.print(f"[bold red]No incident #{incident_id}.[/]")
        raise typer.Exit(1)
    if format_ == Format.JSON:
        typer.echo(timeline.as_json(entries))
    elif format_ == Format.CSV:
        typer.echo(timeline.as_csv(entries, zone=settings.zone), nl=False)
    else:
        t = translator(settings.language)
        table = Table(title=t("show.cli.show_title").format(n=incident_id, zone=settings.zone.key), box=box.SIMPLE_HEAD)
        table.add_column(t("show.cli.at"), no_wrap=True)
        table.add_column(t("show.cli.what"), overflow="fold")
        for e in entries:
            table.add_row(display.local_time(e.at, settings.zone, "%m-%d %H:%M:%S"), display.step_sentence(t, e))
        console.print(table)


@incidents_app.command("resolve")
def resolve(
    incident_id: int,
    outcome: str = typer.Option(..., help="how it ended (required)"),
    what_happened: str = typer.Option("", "--what", help="what happened"),
    actions_taken: str = typer.Option("", "--actions", help="actions taken"),
    by: str = typer.Option("cli", help="who writes the handling record"),
) -> None:
    """Write the handling record and close the incident; paged contacts get a short all-clear SMS."""

    async def work(rt: Runtime) -> str | None:
        async with rt.sessions() as session:
            try:
                await incident_service.resolve(
                    session,
                    clock=rt.clock,
                    incident_id=incident_id,
                    by=by,
                    what_happened=what_happened,
                    actions_taken=actions_taken,
                    outcome=outcome,
                    language=rt.settings.language,
                )
            except incident_service.IncidentError as error:
                await session.rollback()
                return str(error)
            await session.commit()
        return None

    problem = run_with_runtime(work)
    if problem:
        errors.print(f"[bold red]{problem}; nothing was changed.[/]")
        raise typer.Exit(1)
    console.print(f"[green]Incident #{incident_id} resolved; the all-clear goes out with the running service.[/]")


@incidents_app.command("ack")
def ack(incident_id: int, by: str = typer.Option("cli", help="who acknowledges (recorded)")) -> None:
    """Acknowledge an open incident (stops the paging); the first acknowledgement wins."""

    async def work(rt: Runtime) -> bool | None:
        async with rt.sessions() as session:
            try:
                won = await incident_service.acknowledge(
                    session,
                    clock=rt.clock,
                    incident_id=incident_id,
                    by=by,
                    channel="cli",
                    language=rt.settings.language,
                )
            except NotAllowed:
                return None
            await session.commit()
            return won

    won = run_with_runtime(work)
    if won is None:
        errors.print(f"[bold red]{by} may not acknowledge (a read-only account); nothing was changed.[/]")
        raise typer.Exit(1)
    if not won:
        errors.print(f"[bold red]Incident #{incident_id} is unknown or already acknowledged; nothing was changed.[/]")
        raise typer.Exit(1)
    console.print(f"[green]Incident #{incident_id} acknowledged.[/]")
