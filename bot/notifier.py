"""`TelegramNotifier`: the `care.ports.Notifier` adapter, translating aiogram's errors into the port's."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from carevisit.care.ports import ChatMessage, PermanentFailure, RateLimited, TemporaryFailure


class TelegramNotifier:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: ChatMessage) -> None:
        markup = (
            InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=b.text, callback_data=b.callback_data) for b in row]
                    for row in message.buttons
                ]
            )
            if message.buttons
            else None
        )
        try:
            await self.bot.send_message(int(message.to.id), message.text, reply_markup=markup)
        except TelegramRetryAfter as error:
            raise RateLimited(retry_after=float(error.retry_after)) from error
        except (TelegramForbiddenError, TelegramNotFound, TelegramMigrateToChat, TelegramBadRequest) as error:
            # Blocked by the user, chat gone or moved, or a message Telegram will never accept.
            raise PermanentFailure(error.message) from error
        except TelegramUnauthorizedError as error:
            # A wrong token is our configuration, not this message's fault: keep it queued.
            raise TemporaryFailure("bot token refused") from error
        except (TimeoutError, TelegramServerError, TelegramNetworkError) as error:
            raise TemporaryFailure(str(error)) from error
        except (TelegramAPIError, ClientDecodeError) as error:
            # Anything else (a proxy's HTML error page, a status aiogram has no class for): worth another try, and
            # never a bug that leaves the message stuck mid-send.
            raise TemporaryFailure(type(error).__name__) from error
