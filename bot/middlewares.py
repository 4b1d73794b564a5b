"""Per-update middlewares: a database session, who the user is (from the database, every update) and their locale.

The session middleware only opens and closes: the handlers' domain calls decide what to commit (an exception
leaves everything uncommitted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_accounts import ChatUser, chat_user

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
LOCALES = ("zh_CN", "en")


class PrivateChatsOnly(BaseMiddleware):
    """The bot speaks only in one-to-one chats: in a group, a linked volunteer's /visits would show elders'
    addresses to everyone there. Anything from a group or channel is dropped unanswered."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is not None and chat.type != "private":
            return None
        return await handler(event, data)


class DbSessionMiddleware(BaseMiddleware):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(data.get("session"), AsyncSession):  # given by the stored-update processor
            return await handler(event, data)
        async with self.sessions() as session:
            data["session"] = session
            return await handler(event, data)


class WhoMiddleware(BaseMiddleware):
    """`who`: the volunteer and/or coordinator linked to the sender's account, looked up afresh each update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            data["who"] = ChatUser(volunteer=None, coordinator=None)
        else:
            data["who"] = await chat_user(data["session"], telegram_user_id=user.id)
        return await handler(event, data)


def locale_for(profile_language: str | None, telegram_language: str | None, default: str) -> str:
    """The profile's language if set, else the Telegram app's (English for en-*), else the programme default."""
    for candidate in (profile_language, telegram_language):
        if not candidate:
            continue
        if candidate in LOCALES:
            return candidate
        if candidate.lower().startswith("en"):
            return "en"
        if candidate.lower().startswith("zh"):
            return "zh_CN"
    return default


class ProfileI18nMiddleware(I18nMiddleware):
    def __init__(self, i18n: I18n) -> None:
        super().__init__(i18n=i18n)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        who: ChatUser | None = data.get("who")
        user: User | None = data.get("event_from_user")
        locale = locale_for(
            who.language if who else None, user.language_code if user else None, self.i18n.default_locale
        )
        # Kept for the error handlers: after a failed statement the session can't load the profile again.
        data["locale"] = locale
        return locale
