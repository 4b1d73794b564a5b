"""`carevisit db …`: schema migrations."""

from __future__ import annotations

import typer

from carevisit.bootstrap import Runtime
from carevisit.commands.common import console, run_with_runtime
from carevisit.storage import schema

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create the database or bring it to the newest schema (safe to run again)."""

    async def work(rt: Runtime) -> str | None:
        await schema.upgrade(rt.engine)
        return await schema.current_revision(rt.engine)

    revision = run_with_runtime(work, check_schema=False)
    console.print(f"Database is at revision [bold]{revision}[/].")


@app.command("current")
def current() -> None:
    """Show the database's schema revision and the one this carevisit needs."""

    async def work(rt: Runtime) -> str | None:
        return await schema.current_revision(rt.engine)

    revision = run_with_runtime(work, check_schema=False)
    head = schema.head_revision()
    state = "up to date" if revision == head else "run `carevisit db upgrade`"
    console.print(f"database: {revision or 'empty'}; needed: {head} ({state})")
