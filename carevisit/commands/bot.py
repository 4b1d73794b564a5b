"""`carevisit invite`: a one-time link that connects a volunteer's (or coordinator's) Telegram account."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from carevisit.bootstrap import Runtime
from carevisit.bot.setup import make_bot
from carevisit.care.invitations import create_invitation
from carevisit.care.people import coordinator_by_username, volunteer_by_roster_id
from carevisit.commands.common import console, errors, run_with_runtime

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


async def bot_username(rt: Runtime) -> str:
    """The bot's @username from Telegram (getMe)."""
    settings = rt.settings
    assert settings.telegram_token is not None
    bot = make_bot(
        settings.telegram_token.get_secret_value(),
        api_base=str(settings.telegram_api_base).rstrip("/") if settings.telegram_api_base else None,
    )
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    assert me.username is not None, "a bot always has a username"
    return me.username


def invite(
    person: str = typer.Argument(
        ...,
        metavar="VOLUNTEER_ID",
        help="The volunteer's roster id (编号); with --coordinator, a coordinator's user name.",
    ),
    coordinator: bool = typer.Option(False, "--coordinator", help="VOLUNTEER_ID is a coordinator's user name."),
    days: int = typer.Option(7, min=1, max=60, help="How long the link works."),
    bot_username_option: str | None = typer.Option(
        None, "--bot-username", help="The bot's @username, if Telegram can't be asked (no token here)."
    ),
) -> None:
    """Print a one-time Telegram link (expires after DAYS) that links the person's chat account."""

    async def work(rt: Runtime) -> str:
        if bot_username_option:
            username = bot_username_option.lstrip("@")
            if not _USERNAME.match(username):
                errors.print(f"[bold red]{bot_username_option!r} is not a Telegram bot username[/]")
                raise typer.Exit(2)
        elif rt.settings.telegram_token is not None:
            try:
                username = await bot_username(rt)
            except Exception as error:  # network, wrong token: say so, write nothing
                errors.print(f"[bold red]Could not ask Telegram for the bot's name: {error}[/]")
                errors.print("Give it with --bot-username.")
                raise typer.Exit(2) from None
        else:
            errors.print("[bold red]Set CAREVISIT_TELEGRAM_TOKEN, or give the bot's name with --bot-username.[/]")
            raise typer.Exit(2)
        async with rt.sessions() as session:
            found = (
                await coordinator_by_username(session, username=person)
                if coordinator
                else await volunteer_by_roster_id(session, external_id=person)
            )
            try:
                if found is None or found.id is None:
                    raise LookupError(person)
                token = await create_invitation(
                    session,
                    clock=rt.clock,
                    created_by="cli",
                    volunteer_id=None if coordinator else found.id,
                    coordinator_id=found.id if coordinator else None,
                    valid_for=timedelta(days=days),
                )
            except LookupError:
                who = "coordinator with user name" if coordinator else "volunteer with roster id (编号)"
                errors.print(f"[bold red]No active {who} {person!r}.[/]")
                raise typer.Exit(1) from None
            await session.commit()
        return f"https://t.me/{username}?start={token}"

    link = run_with_runtime(work)
    console.print(f"Send this link to the person; it works once, within {days} days:")
    console.print(link, markup=False, highlight=False)
