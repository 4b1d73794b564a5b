"""Answering a button press by editing its message in place, or with a new message when it can't be edited."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    elif query.bot is not None:  # a message too old to edit
        await query.bot.send_message(query.from_user.id, text, reply_markup=markup)


async def reply(query: CallbackQuery, text: str, markup: object = None) -> None:
    """A new message in the chat of the pressed button."""
    assert query.bot is not None
    await query.bot.send_message(query.from_user.id, text, reply_markup=markup)  # type: ignore[arg-type]
