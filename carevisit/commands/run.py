"""`carevisit run`: start the service."""

from __future__ import annotations

from carevisit.bootstrap import Runtime
from carevisit.commands.common import console, run_with_runtime
from carevisit.service import parts_report, serve


def run() -> None:
    """Start the service: dashboard and webhooks, scheduler, escalation, bot. Says which parts are off and why."""

    async def work(rt: Runtime) -> None:
        for part, on, why in parts_report(rt):
            colour = "green" if on else "bold yellow"
            console.print(f"[{colour}]{part}: {'on' if on else 'OFF'}[/] — {why}")
        await serve(rt)

    run_with_runtime(work)
