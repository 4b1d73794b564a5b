"""`carevisit run`: start the service."""

from __future__ import annotations

import typer

from carevisit.bootstrap import Runtime
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.service import Role, parts_report, serve


def run(
    role: Role = typer.Option(
        Role.ALL,
        "--role",
        help="web: dashboard and webhooks only; worker: background work only (no port); all: both. "
        "Any number of each may run on one PostgreSQL database (docs/deploy.md).",
    ),
) -> None:
    """Start the service: dashboard and webhooks, scheduler, escalation, bot. Says which parts are off and why."""

    async def work(rt: Runtime) -> None:
        console.print(f"role: {role.value}")
        for part, on, why in parts_report(rt, role):
            colour = "green" if on else "bold yellow"
            console.print(f"[{colour}]{part}: {'on' if on else 'OFF'}[/] — {why}")
        try:
            await serve(rt, role=role)
        except OSError as error:  # the port is taken, or the host is not ours
            settings = rt.settings
            errors.print(
                f"[bold red]Cannot listen on {settings.web_host}:{settings.web_port}: {error.strerror or error}.[/] "
                "Is another carevisit running? Set CAREVISIT_WEB_PORT (or CAREVISIT_WEB_HOST)."
            )
            raise typer.Exit(1) from None

    run_with_runtime(work)
