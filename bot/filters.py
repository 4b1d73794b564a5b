"""Role and content filters. All async: aiogram runs a synchronous filter in a worker thread, which is slow."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from carevisit.bot.chat_accounts import ChatUser
from carevisit.bot.middlewares import LOCALES


class IsVolunteer(Filter):
    """Passes the linked volunteer to the handler as `volunteer`."""

    async def __call__(self, _event: Any, who: ChatUser) -> bool | dict[str, Any]:
        return {"volunteer": who.volunteer} if who.volunteer is not None else False


class IsCoordinator(Filter):
    async def __call__(self, _event: Any, who: ChatUser) -> bool | dict[str, Any]:
        return {"coordinator": who.coordinator} if who.coordinator is not None else False


class MenuButton(Filter):
    """A reply-keyboard caption, in whichever language the keyboard was drawn."""

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        return message.text is not None and message.text in {i18n.gettext(self.msgid, locale=loc) for loc in LOCALES}


async def has_text(message: Message) -> bool:
    return bool(message.text) and not message.text.startswith("/")  # type: ignore[union-attr]


async def has_photo(message: Message) -> bool:
    return bool(message.photo)


async def has_voice(message: Message) -> bool:
    return message.voice is not None


async def has_location(message: Message) -> bool:
    return message.location is not None


async def has_contact(message: Message) -> bool:
    return message.contact is not None
