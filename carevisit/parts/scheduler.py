"""The scheduler as a part of `carevisit run`: visit planning, reminders, overdue notices, month-end marking."""

from __future__ import annotations

from aiohttp import web

from carevisit.bootstrap import Runtime
from carevisit.policies import visit_policy
from carevisit.scheduler.cron.service import SchedulerService


class SchedulerPart:
    name = "scheduler"

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        # Fail at start, not at 01:00 on the 1st, if the policy file is broken.
        visit_policy(settings.visit_policy_file)
        self.service = SchedulerService(
            engine=rt.engine,
            sessions=rt.sessions,
            clock=rt.clock,
            zone=settings.zone,
            language=settings.language,
            plan_time=settings.plan_time,
            reminder_time=settings.reminder_time,
            policy=lambda: visit_policy(settings.visit_policy_file),
        )

    def add_routes(self, app: web.Application) -> None:
        """No routes: coordinators reach planning through the CLI and the dashboard."""

    async def start(self) -> None:
        await self.service.start()

    async def stop(self) -> None:
        await self.service.stop()


def make_part(rt: Runtime) -> SchedulerPart:
    return SchedulerPart(rt)
