"""`carevisit drill` and `carevisit incidents …`: test pages, the list of emergencies, their archive, resolving."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.table import Table
from sqlmodel import col, select

from carevisit.bootstrap import Runtime
from carevisit.care.access import NotAllowed
from carevisit.commands import roster_ids
from carevisit.commands.common import console, errors, run_with_runtime
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
    """Open emergencies (or all), newest first."""

    async def work(rt: Runtime) -> list[tuple[Incident, str]]:
        async with rt.sessions() as session:
            query = (
                select(Incident, Elder.external_id)
                .join(Elder, col(Elder.id) == col(Incident.elder_id))
                .order_by(col(Incident.opened_at).desc())
                .limit(limit)
            )
            if not all_:
                query = query.where(Incident.status != IncidentStatus.RESOLVED)
            return [(incident, external_id) for incident, external_id in (await session.exec(query)).all()]

    rows = run_with_runtime(work)
    table = Table("id", "opened", "elder (编号)", "kind", "status", "step", "acknowledged by")
    for incident, elder_key in rows:
        table.add_row(
            str(incident.id),
            incident.opened_at.strftime("%Y-%m-%d %H:%M UTC"),
            elder_key,
            ("drill " if incident.is_drill else "") + incident.kind,
            str(incident.status),
            str(incident.step),
            incident.acknowledged_by or "",
        )
    console.print(table)


@incidents_app.command("show")
def show(
    incident_id: int,
    format_: Format = typer.Option(Format.TEXT, "--format", help="text, json or csv (for the archive)"),
) -> None:
    """The incident's full timeline: opened, every page with its provider sid and statuses, acknowledgements,
    the handling record."""

    async def work(rt: Runtime) -> list[timeline.Entry]:
        async with rt.sessions() as session:
            return await timeline.incident_timeline(session, incident_id=incident_id)

    entries = run_with_runtime(work)
    if not entries:
        errors.print(f"[bold red]No incident #{incident_id}.[/]")
        raise typer.Exit(1)
    if format_ == Format.JSON:
        typer.echo(timeline.as_json(entries))
    elif format_ == Format.CSV:
        typer.echo(timeline.as_csv(entries), nl=False)
    else:
        table = Table("at (UTC)", "what", "who", "channel", "detail", "sid")
        for e in entries:
            table.add_row(e.at.strftime("%m-%d %H:%M:%S"), e.what, e.who, e.channel, e.detail, e.sid)
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
