"""`carevisit config check`: validate the settings and show them with secrets masked; check the pager in use —
its settings, its SDK, its approved templates, and the escalation policy against its frequency limits; say whether
WeCom is on and which URLs to paste into its app's settings."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from carevisit.commands.common import console, errors, settings_or_exit
from carevisit.config import Settings, masked
from carevisit.pager_check import DOMESTIC, WHAT_IT_SENDS, pager_findings, push_types
from carevisit.wecom.callback import CALLBACK_PATH
from carevisit.wecom.links import SIGN_IN

app = typer.Typer(help="Configuration.", no_args_is_help=True)


@app.command("check")
def check() -> None:
    """Validate every CAREVISIT_* setting and print them, secrets masked; check the pager in use (its settings,
    templates and limits against the escalation policy). Exits 2 naming each problem."""
    settings = settings_or_exit()
    table = Table("variable", "value")
    for name, value in masked(settings).items():
        table.add_row(name, value)
    console.print(table)
    console.print(f"Telegram bot: {'on' if settings.telegram_enabled else 'off (no CAREVISIT_TELEGRAM_TOKEN)'}")
    console.print(f"WeCom: {'on' if settings.wecom_enabled else 'off (no CAREVISIT_WECOM_* settings)'}")
    pager = settings.pager_in_use
    twilio_off = "off (console pager: nothing is sent)" if pager == "console" else "off"
    console.print(f"Twilio SMS/voice: {'on' if settings.twilio_enabled else twilio_off}")
    chosen = (
        "CAREVISIT_PAGER"
        if settings.pager
        else "CAREVISIT_PAGER unset: "
        + ("Twilio credentials are set" if pager == "twilio" else "no Twilio credentials")
    )
    console.print(f"Pager: {pager} — {WHAT_IT_SENDS[pager]} ({chosen})")
    found = pager_findings(settings)
    for warning in found.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if found.errors:
        errors.print("[bold red]Configuration error[/]")
        for problem in found.errors:
            errors.print(f"  {escape(problem)}")
        raise typer.Exit(2)
    _print_push_urls(settings)
    _print_wecom_urls(settings)
    console.print("[green]Configuration is valid.[/]")


def _print_push_urls(settings: Settings) -> None:
    """Where to point the provider's receipts and key presses (its console asks for each URL); secret masked."""
    pager = settings.pager_in_use
    if pager not in DOMESTIC or settings.public_url is None:
        return
    secret = masked(settings)["CAREVISIT_PAGER_CALLBACK_SECRET"]
    base = str(settings.public_url).rstrip("/")
    console.print(f"Push URLs to set in the {pager} console (docs/providers.md §5; the secret shown masked):")
    for push in push_types(pager):
        console.print(f"  {base}/pager/{pager}/{secret}/{push}")


def _print_wecom_urls(settings: Settings) -> None:
    """What the WeCom admin console asks of the app: its callback (接收消息) and its home page (应用主页)."""
    if not settings.wecom_enabled or settings.public_url is None:
        return  # the settings refuse WeCom on without PUBLIC_URL
    base = str(settings.public_url).rstrip("/")
    console.print("WeCom app settings (docs/wecom.md; the Token and EncodingAESKey are the ones shown masked above):")
    console.print(f"  接收消息 URL: {base}{CALLBACK_PATH}")
    console.print(f"  应用主页 (workbench page): {base}{SIGN_IN}")
