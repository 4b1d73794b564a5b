"""`carevisit invite`: a one-time link that connects a volunteer's (or coordinator's) Telegram account, or with
`--web` signs a volunteer in to the volunteer app."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from carevisit.bootstrap import Runtime
from carevisit.bot.setup import make_bot
from carevisit.care.invitations import create_invitation
from carevisit.care.people import coordinator_by_username, volunteer_by_roster_id
from carevisit.care.volunteer_sign_in import issue_link_token
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
    web: bool = typer.Option(
        False, "--web", help="A sign-in link to the volunteer app (PUBLIC_URL/v/in/…) instead of the Telegram bot."
    ),
    days: int | None = typer.Option(None, min=1, max=60, help="How long the link works (7 days; --web: 3)."),
    bot_username_option: str | None = typer.Option(
        None, "--bot-username", help="The bot's @username, if Telegram can't be asked (no token here)."
    ),
) -> None:
    """Print a one-time Telegram link (expires after DAYS) that links the person's chat account; with --web, a
    one-time link that signs the volunteer in to the volunteer app on the phone that opens it."""
    if web:
        _print_web_link(person, coordinator=coordinator, days=days or 3)
        return
    days = days or 7

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


def _print_web_link(roster_id: str, *, coordinator: bool, days: int) -> None:
    if coordinator:
        errors.print("[bold red]The volunteer app is for volunteers: --web takes a volunteer's roster id (编号).[/]")
        raise typer.Exit(2)

    async def work(rt: Runtime) -> str:
        if rt.settings.public_url is None:
            errors.print(
                "[bold red]Set CAREVISIT_PUBLIC_URL: the address at which volunteers' phones reach this service.[/]"
            )
            raise typer.Exit(2)
        async with rt.sessions() as session:
            volunteer = await volunteer_by_roster_id(session, external_id=roster_id)
            try:
                if volunteer is None or volunteer.id is None:
                    raise LookupError(roster_id)
                token = await issue_link_token(
                    session, clock=rt.clock, volunteer_id=volunteer.id, created_by="cli", valid_for=timedelta(days=days)
                )
            except LookupError:
                errors.print(f"[bold red]No active volunteer with roster id (编号) {roster_id!r}.[/]")
                raise typer.Exit(1) from None
            await session.commit()
        return f"{str(rt.settings.public_url).rstrip('/')}/v/in/{token}"

    link = run_with_runtime(work)
    console.print(f"Send this link to the volunteer (SMS, WeChat, WeCom); it signs in one phone, within {days} days:")
    console.print(link, markup=False, highlight=False)
