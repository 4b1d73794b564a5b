"""Telling the volunteer in the chat about an emergency `carevisit.fieldwork` raised: the emergency numbers and the
elder's contacts, which must arrive (`must_arrive`: queued if Telegram fails right then).

The durable part (the incident, the coordinators' notices) is `fieldwork.emergencies.raise_emergency`, which the
handler commits together with what raised it before anything here is sent.

`EmergenciesMiddleware` gives every volunteer handler of the routers it is on an `emergencies` argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import keyboards, texts
from carevisit.bot.middlewares import Handler
from carevisit.bot.must_arrive import Urgent, send_or_queue
from carevisit.care.clock import Clock
from carevisit.fieldwork.emergencies import Raised
from carevisit.storage.models import Volunteer


@dataclass(frozen=True, slots=True)
class Emergencies:
    """What telling an emergency needs, gathered once per update for the volunteer who sent it."""

    session: AsyncSession
    clock: Clock
    volunteer: Volunteer
    update_id: int  # keys what this update may have to queue, so a retry queues nothing twice

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
                session=data["session"], clock=data["clock"], volunteer=volunteer, update_id=update.update_id
            )
        return await handler(event, data)
