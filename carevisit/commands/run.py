"""`carevisit run`: start the service."""

from __future__ import annotations

import logging

import typer
from rich.markup import escape

from carevisit.bootstrap import Runtime
from carevisit.care.coordinators import any_can_sign_in
from carevisit.commands.common import console, errors, run_with_runtime, settings_or_exit
from carevisit.config import data_dir
from carevisit.parts.escalation import PagerSetupError
from carevisit.service import Role, parts_report, serve, settle_heap

log = logging.getLogger(__name__)


def run(
    role: Role = typer.Option(
        Role.ALL,
        "--role",
        help="web: dashboard and webhooks only; worker: background work only (no port); all: both. "
        "Any number of each may run on one PostgreSQL database (docs/deploy.md).",
    ),
) -> None:
    """Start the service: dashboard and webhooks, scheduler, escalation, bot. Says which parts are off and why."""
    if role.serves_web:
        _data_dir_or_exit()

    async def work(rt: Runtime) -> None:
        console.print(f"role: {role.value}")
        if role.serves_web:
            await _warn_if_nobody_can_sign_in(rt)
        for part, on, why in parts_report(rt, role):
            colour = "green" if on else "bold yellow"
            console.print(f"[{colour}]{part}: {'on' if on else 'OFF'}[/] — {why}")
        try:
            await serve(rt, role=role, started=settle_heap)
        except PagerSetupError as error:  # the provider chosen cannot page anyone: say why before anything runs
            errors.print(f"[bold red]The pager cannot start:[/] {escape(str(error))}")  # [aliyun] is not markup
            raise typer.Exit(2) from None
        except OSError as error:  # the port is taken, or the host is not ours
            settings = rt.settings
            errors.print(
                f"[bold red]Cannot listen on {settings.web_host}:{settings.web_port}: {error.strerror or error}.[/] "
                "Is another carevisit running? Set CAREVISIT_WEB_PORT (or CAREVISIT_WEB_HOST)."
            )
            raise typer.Exit(1) from None

    run_with_runtime(work)


def _data_dir_or_exit() -> None:
    """The web process keeps the volunteers' photos: it does not start where it could not keep the first one."""
    settings = settings_or_exit()
    try:
        data_dir.prepare(settings.data_dir or data_dir.default_data_dir(settings.database_url))
    except data_dir.DataDirUnusable as error:
        errors.print(f"[bold red]Cannot keep files in CAREVISIT_DATA_DIR:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


async def _warn_if_nobody_can_sign_in(rt: Runtime) -> None:
    """A dashboard nobody can sign in to looks broken; say how to make the first account."""
    async with rt.sessions() as session:
        if await any_can_sign_in(session):
            return
    hint = "no active coordinator with a password: nobody can sign in to the dashboard"
    log.warning(hint)
    errors.print(
        f"[bold yellow]Warning: {hint}.[/] Create the first admin with "
        "`carevisit coordinator add USERNAME --area AREA --role admin`."
    )
