"""The `carevisit` command. Each group lives in its own module under `carevisit.commands`."""

from __future__ import annotations

import typer

from carevisit.commands import bot, config, coordinator, db, demo, escalation, planning, roster, run, wecom
from carevisit.logs import configure_logging

app = typer.Typer(
    help="carevisit: care visits for elderly people with special difficulties (探访关爱服务).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(roster.app, name="import")
app.command("template")(roster.template)
app.command("demo")(demo.demo)
app.command("run")(run.run)
app.command("plan")(planning.plan)
app.add_typer(planning.visits_app, name="visits")
app.command("report")(planning.report)
app.command("drill")(escalation.drill)
app.add_typer(escalation.incidents_app, name="incidents")
app.command("invite")(bot.invite)
app.add_typer(coordinator.app, name="coordinator")
app.add_typer(wecom.app, name="wecom")


def main() -> None:
    configure_logging()
    app()
