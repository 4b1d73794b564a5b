"""`carevisit config check`: validate the settings and show them with secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from carevisit.commands.common import console, settings_or_exit
from carevisit.config import masked

app = typer.Typer(help="Configuration.", no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Validate every CAREVISIT_* setting and print them, secrets masked. Exits 2 naming each bad variable."""
    settings = settings_or_exit()
    table = Table("variable", "value")
    for name, value in masked(settings).items():
        table.add_row(name, value)
    console.print(table)
    console.print(f"Telegram bot: {'on' if settings.telegram_enabled else 'off (no CAREVISIT_TELEGRAM_TOKEN)'}")
    console.print(f"Twilio SMS/voice: {'on' if settings.twilio_enabled else 'off (console pager: nothing is sent)'}")
    console.print("[green]Configuration is valid.[/]")
