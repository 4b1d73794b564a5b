"""`carevisit wecom`: tying volunteers and coordinators to their WeCom (企业微信) members.

`link` matches roster phones against WeCom's directory; `invite` prints a one-time code the person sends to the app.
Neither prints a phone number or a userid: the counts say what happened, the audit log says to whom.
"""

from __future__ import annotations

from datetime import timedelta

import typer

from carevisit.bootstrap import Runtime
from carevisit.care.invitations import create_invitation
from carevisit.care.people import coordinator_by_username, volunteer_by_roster_id
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.config.settings import wecom_missing
from carevisit.parts.wecom import make_client
from carevisit.wecom.linking import PhoneLinkCounts, link_by_phone

app = typer.Typer(
    help="WeCom (企业微信): link volunteers and coordinators to their WeCom members.", no_args_is_help=True
)


def _need_wecom(rt: Runtime, *names: str) -> None:
    missing = [name for name in wecom_missing(rt.settings) if not names or name in names]
    if missing:
        errors.print(f"[bold red]Set {', '.join(missing)} first.[/]")
        raise typer.Exit(2)


@app.command("link")
def link() -> None:
    """Ask WeCom which member has each active volunteer's and coordinator's roster phone, and link the matches
    (only people with a phone and no WeCom member yet)."""

    async def work(rt: Runtime) -> PhoneLinkCounts:
        _need_wecom(rt, "CAREVISIT_WECOM_CORP_ID", "CAREVISIT_WECOM_AGENT_ID", "CAREVISIT_WECOM_SECRET")
        async with make_client(rt.settings, rt.clock) as client, rt.sessions() as session:
            counts = await link_by_phone(session, clock=rt.clock, client=client)
            await session.commit()  # what was linked before WeCom stopped a run stays linked
        return counts

    counts = run_with_runtime(work)
    volunteers, coordinators = counts.by_kind.get("volunteer", 0), counts.by_kind.get("coordinator", 0)
    console.print(
        f"Looked up {counts.looked_up}: linked {counts.linked} ({volunteers} volunteers, {coordinators} coordinators), "
        f"{counts.not_members} not WeCom members, {counts.taken} already linked to someone else."
    )
    if counts.stopped_by is not None:
        errors.print(f"[bold red]WeCom stopped the run ({counts.stopped_by}). Run it again later for the rest.[/]")
        raise typer.Exit(1)


@app.command("invite")
def invite(
    person: str = typer.Argument(..., metavar="VOLUNTEER_ID", help="The volunteer's roster id (编号)."),
    coordinator: bool = typer.Option(False, "--coordinator", help="VOLUNTEER_ID is a coordinator's user name."),
    days: int = typer.Option(7, min=1, max=60, help="How long the code works."),
) -> None:
    """Print a one-time code (expires after DAYS) that the person sends to the WeCom app to link their member."""

    async def work(rt: Runtime) -> str:
        async with rt.sessions() as session:
            found = (
                await coordinator_by_username(session, username=person)
                if coordinator
                else await volunteer_by_roster_id(session, external_id=person)
            )
            if found is None or found.id is None or not found.active:
                who = "coordinator with user name" if coordinator else "volunteer with roster id (编号)"
                errors.print(f"[bold red]No active {who} {person!r}.[/]")
                raise typer.Exit(1)
            token = await create_invitation(
                session,
                clock=rt.clock,
                created_by="cli",
                volunteer_id=None if coordinator else found.id,
                coordinator_id=found.id if coordinator else None,
                valid_for=timedelta(days=days),
            )
            await session.commit()
        return token

    token = run_with_runtime(work)
    console.print(f"The person sends this code to the WeCom app as a message; it works once, within {days} days:")
    console.print(token, markup=False, highlight=False)
