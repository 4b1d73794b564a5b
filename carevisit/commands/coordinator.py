"""`carevisit coordinator …`: the dashboard's accounts from the command line (the first admin comes from here)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care import coordinators as accounts
from carevisit.care.phones import mask_phone
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.dashboard.accounts import hash_password
from carevisit.dashboard.texts import translator
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Coordinator

app = typer.Typer(help="Coordinator accounts for the dashboard.", no_args_is_help=True)
T = TypeVar("T")
_t = translator("en")
_ACTOR = "cli"


class _Refused(Exception):
    """A bad argument; printed, nothing changed."""


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run `work(rt)`; a refusal prints its reason and exits 2 with nothing changed."""

    async def guarded(rt: Runtime) -> T | _Refused:
        try:
            return await work(rt)
        except accounts.AccountError as error:
            return _Refused(_t(f"acct.error.{error.reason}").format(**error.values))
        except _Refused as error:
            return error

    result = run_with_runtime(guarded)
    if isinstance(result, _Refused):
        errors.print(f"[bold red]{result}[/]")
        raise typer.Exit(2)
    return result


def _password(from_stdin: bool) -> str:
    """From a hidden prompt typed twice, or the first line of standard input: never from an argument, which
    every user of the machine can read in the process list and the shell's history."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.check_password(password)
    except accounts.AccountError as error:
        errors.print(f"[bold red]{_t('acct.error.password_short').format(**error.values)}[/]")
        raise typer.Exit(2) from None
    return password


_STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of standard input.")


@app.command("add")
def add(
    username: str = typer.Argument(..., help="The sign-in name (letters, digits, . _ -)."),
    area: str = typer.Option(..., "--area", help="The area: its code, or a name path such as 南山区/粤海街道."),
    role: CoordinatorRole = typer.Option(..., "--role", help="admin: also accounts; viewer: reads only."),
    name: str = typer.Option("", "--name", help="The person's name as the dashboard shows it."),
    phone: str = typer.Option("", "--phone", help="Their phone, for escalation messages."),
    password_stdin: bool = _STDIN,
) -> None:
    """Add a dashboard account that sees and manages the AREA and everything below it."""
    password = _password(password_stdin)

    async def work(rt: Runtime) -> str:
        async with rt.sessions() as session:
            found = await accounts.find_area(session, text=area)
            await accounts.create_coordinator(
                session,
                clock=rt.clock,
                actor=_ACTOR,
                username=username,
                role=role,
                area=found,
                password_hash=hash_password(password),
                name=name,
                phone=phone,
                region=rt.settings.default_region,
            )
            path = await accounts.name_path(session, found)
            await session.commit()
        return path

    path = _run(work)
    console.print(f"Added {role.value} {username} for {path}.")


@app.command("list")
def list_accounts(
    area: str | None = typer.Option(None, "--area", help="Only accounts in this area's subtree (code or names)."),
) -> None:
    """The accounts, by area: user name, name, role, area, whether active, last sign-in (local time)."""

    async def work(rt: Runtime) -> Table:
        async with rt.sessions() as session:
            if area:
                top = await accounts.find_area(session, text=area)
                listings = [await accounts.coordinators_in_subtree(session, area=top, limit=10_000)]
            else:
                listings = [
                    await accounts.coordinators_in_subtree(session, area=root, limit=10_000)
                    for root in await accounts.root_areas(session)
                ]
            rows = [row for listing in listings for row in listing.rows]
            paths = await accounts.name_paths(session, [row.area for row in rows])
        table = Table("username", "name", "role", "area", "phone", "active", "last sign-in")
        for row in rows:
            c = row.coordinator
            last = (
                c.last_sign_in_at.astimezone(rt.settings.zone).strftime("%Y-%m-%d %H:%M") if c.last_sign_in_at else ""
            )
            table.add_row(
                c.username or "",
                c.name,
                c.role.value,
                paths[row.area.path],
                mask_phone(c.phone) if c.phone else "",
                "yes" if c.active else "no",
                last,
            )
        more = sum(listing.more for listing in listings)
        if more:
            table.caption = f"{more} more not listed"
        return table

    console.print(_run(work))


@app.command("passwd")
def passwd(username: str = typer.Argument(...), password_stdin: bool = _STDIN) -> None:
    """Set a new password; every session of the account ends, and a sign-in lock is lifted."""
    password = _password(password_stdin)

    async def work(rt: Runtime) -> None:
        async with rt.sessions() as session:
            coordinator = await _named(session, username)
            await accounts.set_password(
                session, clock=rt.clock, actor=_ACTOR, coordinator=coordinator, password_hash=hash_password(password)
            )
            await session.commit()

    _run(work)
    console.print(f"New password set for {username}; their sessions have ended.")


@app.command("disable")
def disable(username: str = typer.Argument(...)) -> None:
    """Disable the account: it can no longer sign in, and its sessions end at once."""
    _set_active(username, active=False)


@app.command("enable")
def enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled account again."""
    _set_active(username, active=True)


def _set_active(username: str, *, active: bool) -> None:
    async def work(rt: Runtime) -> bool:
        async with rt.sessions() as session:
            coordinator = await _named(session, username)
            changed = await accounts.set_active(
                session, clock=rt.clock, actor=_ACTOR, coordinator=coordinator, active=active
            )
            await session.commit()
        return changed

    changed = _run(work)
    state = "enabled" if active else "disabled"
    console.print(f"{username} {state}." if changed else f"{username} was already {state}.")


async def _named(session: AsyncSession, username: str) -> Coordinator:
    coordinator = await accounts.by_username(session, username=username)
    if coordinator is None:
        raise _Refused(f"no coordinator with user name {username!r}")
    return coordinator
