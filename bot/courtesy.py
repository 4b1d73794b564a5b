"""Calls to Telegram that only make the chat nicer: an answer to a tap, an edit in place, a thank-you.

Handlers make them after their durable effect is committed, and they never undo it. Telegram refuses them for
reasons that change nothing that matters — a tap answered after its 15 seconds, a message already as wanted, a
user who blocked the bot, a hiccup — so each refusal is logged (ids only) and the handler carries on: none of these
functions raises a Telegram error.
"""

from __future__ import annotations

import logging

from aiogram.exceptions import ClientDecodeError, TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove

log = logging.getLogger(__name__)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
REFUSALS = (TelegramAPIError, ClientDecodeError)  # what aiogram raises when a call fails
_UNEDITABLE = ("message to edit not found", "message can't be edited")


def refused(method: str, chat_id: int, error: Exception) -> None:
    reason = error.message if isinstance(error, TelegramAPIError) else type(error).__name__
    log.info("telegram refused %s to chat %s: %s", method, chat_id, reason)


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> bool:
    """Stop the tapped button's spinner, showing `text`; False when Telegram refused (too late, a hiccup)."""
    try:
        await query.answer(text, show_alert=alert)
    except REFUSALS as error:
        refused("answerCallbackQuery", query.from_user.id, error)
        return False
    return True


async def notice(query: CallbackQuery, text: str) -> None:
    """Tell whoever tapped: in an alert, or in a message when the tap can no longer be answered."""
    if not await answer(query, text, alert=True):
        await say_to(query, text)


async def show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Put `text` in the tapped message; in a new message when that one can't be edited (gone, too old)."""
    message = query.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return  # it already says so
            if not any(reason in error.message for reason in _UNEDITABLE):
                refused("editMessageText", query.from_user.id, error)
                return
        except REFUSALS as error:
            refused("editMessageText", query.from_user.id, error)
            return
    await say_to(query, text, markup)


async def take_buttons(query: CallbackQuery) -> None:
    """Remove the buttons from the tapped message (pressing them again would do nothing new)."""
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except REFUSALS as error:
            refused("editMessageReplyMarkup", query.from_user.id, error)


async def say(message: Message, text: str, markup: Markup = None) -> None:
    """A new message in the chat `message` came from."""
    try:
        await message.answer(text, reply_markup=markup)
    except REFUSALS as error:
        refused("sendMessage", message.chat.id, error)


async def say_to(query: CallbackQuery, text: str, markup: Markup = None) -> None:
    """A new message to whoever tapped."""
    if query.bot is None:
        return
    try:
        await query.bot.send_message(query.from_user.id, text, reply_markup=markup)
    except REFUSALS as error:
        refused("sendMessage", query.from_user.id, error)
