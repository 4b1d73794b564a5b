"""Raising an emergency from a volunteer's chat: one handler context, so the SOS button, an urgent visit outcome and
an urgent problem report all open (or join) the incident the same way.

`EmergenciesMiddleware` gives every volunteer handler of the routers it is on an `emergencies` argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import keyboards, notify, texts
from carevisit.bot.middlewares import Handler
from carevisit.care.clock import Clock
from carevisit.care.people import emergency_contacts
from carevisit.escalation.incident_queries import unresolved_incident
from carevisit.escalation.incidents import open_incident
from carevisit.escalation.policy import EscalationPolicy
from carevisit.storage.models import Elder, Volunteer


@dataclass(frozen=True, slots=True)
class Emergencies:
    """What raising an emergency needs, gathered once per update for the volunteer who sent it."""

    session: AsyncSession
    clock: Clock
    policy: EscalationPolicy
    i18n: I18n
    volunteer: Volunteer

    async def raise_for(
        self,
        event: CallbackQuery | Message,
        elder: Elder,
        *,
        visit_id: int | None = None,
        problem_id: int | None = None,
        description: str = "",
        kind: str = "urgent",
    ) -> None:
        """Numbers first (no database in the way), then the incident, then the elder's contacts."""
        bot: Bot | None = event.bot
        assert bot is not None and elder.id is not None
        chat_id = event.from_user.id if event.from_user else 0
        await bot.send_message(chat_id, texts.emergency_numbers())
        incident = await unresolved_incident(self.session, elder_id=elder.id)
        joined = incident is not None
        if incident is None:
            incident = await open_incident(
                self.session,
                clock=self.clock,
                policy=self.policy,
                elder_id=elder.id,
                kind=kind,
                description=description,
                reporter_volunteer_id=self.volunteer.id,
                visit_id=visit_id,
                problem_id=problem_id,
            )
            await notify.incident_to_coordinators(
                self.session, clock=self.clock, i18n=self.i18n, incident=incident, elder=elder
            )
        await self.session.commit()
        contacts = await emergency_contacts(self.session, elder_id=elder.id)
        text = texts.emergency_contacts(elder, contacts)
        if joined:
            text = f"{texts.incident_exists()}\n{text}"
        assert incident.id is not None
        await bot.send_message(chat_id, text, reply_markup=keyboards.record(incident.id))


class EmergenciesMiddleware(BaseMiddleware):
    """An inner middleware: it runs after the router's IsVolunteer filter has put `volunteer` in the data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        volunteer: Volunteer | None = data.get("volunteer")
        if volunteer is not None:
            data["emergencies"] = Emergencies(
                session=data["session"],
                clock=data["clock"],
                policy=data["policy"],
                i18n=data["i18n"],
                volunteer=volunteer,
            )
        return await handler(event, data)
