"""The `carevisit` command. Each group lives in its own module under `carevisit.commands`."""

from __future__ import annotations

import typer

from carevisit.commands import config, db, demo, roster, run
from carevisit.logs import configure_logging

app = typer.Typer(
    help="carevisit: care visits for elderly people with special difficulties (探访关爱服务).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(roster.app, name="import")
app.command("demo")(demo.demo)
app.command("run")(run.run)


def main() -> None:
    configure_logging()
    app()
