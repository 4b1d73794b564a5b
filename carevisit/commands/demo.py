"""`carevisit demo`: the whole local experience on a SQLite file, with no token and no network."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime, runtime
from carevisit.care.clock import local_today, month_of
from carevisit.care.volunteer_sign_in import issue_link_token
from carevisit.commands.common import console, errors, settings_or_exit
from carevisit.config import Settings
from carevisit.demo_activity import play_month_so_far
from carevisit.demo_data import DEMO_PASSWORD, DEMO_USERNAME, demo_volunteer, seed_demo
from carevisit.policies import escalation_config, visit_policy
from carevisit.service import parts_report, serve
from carevisit.storage import schema
from carevisit.storage.models import Coordinator, Elder


def demo(
    database: Path = typer.Option(Path("carevisit-demo.db"), help="SQLite file for the demo programme."),
    reset: bool = typer.Option(False, help="Delete the demo file first and build it again."),
    serve_dashboard: bool = typer.Option(True, "--serve/--no-serve", help="Start the dashboard afterwards."),
    port: int = typer.Option(8080, help="Port for the dashboard."),
) -> None:
    """Build a sample programme (3 streets, 12 communities, 360 elders, 36 volunteers), plan this month, play the
    volunteers' visits so far, then run the service: dashboard, scheduler, escalation on the console pager."""
    import asyncio

    if reset:
        scheduler_file = database.with_name(f"{database.stem}.scheduler{database.suffix or '.db'}")
        for path in (database, scheduler_file):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    settings = settings_or_exit().model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{database.resolve()}", "web_port": port}
    )

    async def main() -> None:
        async with runtime(settings, check_schema=False) as rt:
            await schema.upgrade(rt.engine)
            async with rt.sessions() as session:
                elders = (await session.exec(select(func.count()).select_from(Elder))).one()
                is_demo = (await session.exec(select(Coordinator).where(Coordinator.username == DEMO_USERNAME))).first()
                if elders and not is_demo:
                    errors.print(f"[bold red]{database} holds a real programme, not the demo: choose another file.[/]")
                    raise typer.Exit(1)
                if not elders:
                    summary = await seed_demo(session, clock=rt.clock)
                    await session.commit()
                    console.print(
                        f"Built the demo programme in {database}: {summary.streets} streets, "
                        f"{summary.communities} communities, {summary.elders} elders with {summary.contacts} "
                        f"emergency contacts, {summary.volunteers} volunteers from {summary.organisations} "
                        f"organisations, {summary.coordinators} coordinator accounts."
                    )
                    played = await play_month_so_far(
                        rt.sessions,
                        clock=rt.clock,
                        zone=settings.zone,
                        visit_policy=visit_policy(settings.visit_policy_file),
                        escalation_policy=escalation_config(settings).policy,
                    )
                    modes = ", ".join(f"{mode} {count}" for mode, count in sorted(played.plan.by_mode.items()))
                    console.print(
                        f"Planned {played.plan.month}: {played.plan.visits_created} visits ({modes}), "
                        f"{played.plan.unassigned_total} unassigned; {played.plan.not_consenting} elders without "
                        f"consent are not visited. So far this month volunteers confirmed {played.confirmed} "
                        f"visits and filed {played.problems} problems; {played.incidents} emergency was handled."
                    )
                else:
                    console.print(f"Using the demo programme already in {database} (--reset builds it again).")
                await _print_volunteer_link(rt, session, base=_base_url(settings, port))
            if not serve_dashboard:
                return
            for part, on, why in parts_report(rt):
                console.print(f"{part}: {'on' if on else 'off'} — {why}")
            console.print(
                f"Dashboard: http://{settings.web_host}:{port}/  user [bold]{DEMO_USERNAME}[/] "
                f"password [bold]{DEMO_PASSWORD}[/]  (Ctrl+C to stop)"
            )
            # The demo's emergencies are drills: someone trying 🆘 must not be told a real one is under way.
            await serve(dataclasses.replace(rt, drill_emergencies=True))

    asyncio.run(main())


def _base_url(settings: Settings, port: int) -> str:
    return str(settings.public_url).rstrip("/") if settings.public_url else f"http://{settings.web_host}:{port}"


async def _print_volunteer_link(rt: Runtime, session: AsyncSession, *, base: str) -> None:
    """A fresh sign-in link to the volunteer app for the demo volunteer with the most to do: the volunteer's side."""
    month = month_of(local_today(rt.clock, rt.settings.zone))
    volunteer = await demo_volunteer(session, month=month)
    if volunteer is None or volunteer.id is None:
        return
    token = await issue_link_token(session, clock=rt.clock, volunteer_id=volunteer.id, created_by="demo")
    await session.commit()
    console.print(
        f"Volunteer app as volunteer {volunteer.external_id} (open on a phone or in a browser; it works once): "
    )
    console.print(f"{base}/v/in/{token}", markup=False, highlight=False)
