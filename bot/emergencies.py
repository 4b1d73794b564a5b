"""Raising an emergency from a volunteer's chat: one handler context, so the SOS button, an urgent visit outcome and
an urgent problem report all open (or join) the incident the same way.

Two parts, because the durable effect comes first and Telegram last: `open_for` opens or joins the incident and
queues the coordinators' notices in the handler's transaction, without committing, so the handler commits it
together with what raised it (the confirmation, the problem report); only then `tell` sends the volunteer the
emergency numbers and the elder's contacts, which must arrive (`must_arrive`: queued if Telegram fails right then).

`EmergenciesMiddleware` gives every volunteer handler of the routers it is on an `emergencies` argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import keyboards, notify, texts
from carevisit.bot.middlewares import Handler
from carevisit.bot.must_arrive import Urgent, send_or_queue
from carevisit.care.clock import Clock
from carevisit.care.people import emergency_contacts
from carevisit.escalation.incident_queries import unresolved_incident
from carevisit.escalation.incidents import open_incident
from carevisit.escalation.policy import EscalationPolicy
from carevisit.storage.models import Elder, EmergencyContact, Incident, Volunteer


@dataclass(frozen=True, slots=True)
class Raised:
    """An emergency raised for an elder: the incident opened now, or the unresolved one it joined."""

    incident: Incident
    elder: Elder
    joined: bool
    contacts: list[EmergencyContact]  # read with it, so telling needs nothing more of the database


@dataclass(frozen=True, slots=True)
class Emergencies:
    """What raising an emergency needs, gathered once per update for the volunteer who sent it."""

    session: AsyncSession
    clock: Clock
    policy: EscalationPolicy
    i18n: I18n
    volunteer: Volunteer
    update_id: int  # keys what this update may have to queue, so a retry queues nothing twice

    async def open_for(
        self,
        elder: Elder,
        *,
        visit_id: int | None = None,
        problem_id: int | None = None,
        description: str = "",
        kind: str = "urgent",
    ) -> Raised:
        """Open an incident for the elder, or join the unresolved one (one emergency per elder at a time); a new
        one is announced to the area's coordinators through the chat outbox. Adds to the session, does not commit."""
        assert elder.id is not None
        contacts = await emergency_contacts(self.session, elder_id=elder.id)
        incident = await unresolved_incident(self.session, elder_id=elder.id)
        if incident is not None:
            return Raised(incident, elder, joined=True, contacts=contacts)
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
        return Raised(incident, elder, joined=False, contacts=contacts)

    async def tell(self, event: CallbackQuery | Message, raised: Raised, *, numbers: bool = True) -> None:
        """After the commit: the emergency numbers (unless `/sos` gave them already), then the elder's contacts
        with a *Record the handling* button."""
        assert raised.incident.id is not None
        text = texts.emergency_contacts(raised.elder, raised.contacts)
        if raised.joined:
            text = f"{texts.incident_exists()}\n{text}"
        key = f"emergency:{raised.incident.id}:update:{self.update_id}"
        messages = [Urgent(f"{key}:numbers", texts.emergency_numbers())] if numbers else []
        messages.append(Urgent(f"{key}:contacts", text, keyboards.record_buttons(raised.incident.id)))
        await self.say(event, messages)

    async def numbers(self, event: CallbackQuery | Message) -> None:
        """The emergency numbers alone, before anything else (`/sos`, before the elder is chosen)."""
        await self.say(event, [Urgent(f"sos:update:{self.update_id}:numbers", texts.emergency_numbers())])

    async def say(self, event: CallbackQuery | Message, messages: list[Urgent]) -> None:
        bot: Bot | None = event.bot
        assert bot is not None and event.from_user is not None
        await send_or_queue(bot, self.session, clock=self.clock, chat_id=event.from_user.id, messages=messages)


class EmergenciesMiddleware(BaseMiddleware):
    """An inner middleware: it runs after the router's IsVolunteer filter has put `volunteer` in the data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        volunteer: Volunteer | None = data.get("volunteer")
        if volunteer is not None:
            update: Update = data["event_update"]
            data["emergencies"] = Emergencies(
                session=data["session"],
                clock=data["clock"],
                policy=data["policy"],
                i18n=data["i18n"],
                volunteer=volunteer,
                update_id=update.update_id,
            )
        return await handler(event, data)
