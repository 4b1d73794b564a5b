"""Telling coordinators about new emergencies and problems in their area, through the rate-limited chat outbox.

Queued in the caller's transaction (so a rolled-back report tells nobody) and rendered in each coordinator's
language. Viewers (read-only accounts) are told of emergencies too, without the Acknowledge button.
"""

from __future__ import annotations

from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import keyboards, texts
from carevisit.care import outbound
from carevisit.care.clock import Clock
from carevisit.care.people import chat_recipient, coordinators_over
from carevisit.care.ports import Button
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Elder, Incident, Problem


async def incident_to_coordinators(
    session: AsyncSession, *, clock: Clock, i18n: I18n, incident: Incident, elder: Elder
) -> None:
    for coordinator in await coordinators_over(session, community_id=elder.community_id):
        to = chat_recipient(coordinator)
        assert to is not None  # coordinators_over returns the reachable only
        with i18n.use_locale(coordinator.language or i18n.default_locale):
            buttons: tuple[tuple[Button, ...], ...] = ()
            if coordinator.role == CoordinatorRole.VIEWER:  # may read, not act: no Acknowledge button
                text = texts.new_incident_for_viewer(incident, elder)
            else:
                caption, data = keyboards.acknowledge_button(incident.id)  # type: ignore[arg-type]
                text, buttons = texts.new_incident(incident, elder), ((Button(caption, data),),)
            await outbound.enqueue(
                session,
                clock=clock,
                key=f"incident:{incident.id}:new:coordinator:{coordinator.id}",
                to=to,
                text=text,
                buttons=buttons,
            )


async def problem_to_coordinators(
    session: AsyncSession, *, clock: Clock, i18n: I18n, problem: Problem, elder: Elder
) -> None:
    for coordinator in await coordinators_over(session, community_id=elder.community_id):
        to = chat_recipient(coordinator)
        assert to is not None  # coordinators_over returns the reachable only
        with i18n.use_locale(coordinator.language or i18n.default_locale):
            await outbound.enqueue(
                session,
                clock=clock,
                key=f"problem:{problem.id}:new:coordinator:{coordinator.id}",
                to=to,
                text=texts.new_problem(problem.category, elder, problem.urgent),
            )
