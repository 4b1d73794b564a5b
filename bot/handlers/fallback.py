"""Whatever nothing else handled: unlinked users get a polite refusal and no data; linked users get help;
stale or forged buttons get an explanation."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.chat_accounts import ChatUser


async def on_anything(message: Message, who: ChatUser) -> None:
    if not who.linked:
        await message.answer(texts.unlinked(), reply_markup=keyboards.share_contact())
        return
    help_text = "\n".join(
        part
        for part, on in ((texts.volunteer_help(), who.volunteer), (texts.coordinator_help(), who.coordinator))
        if on
    )
    await message.answer(f"{texts.unknown_input()}\n{help_text}")


async def on_unknown_button(query: CallbackQuery, who: ChatUser) -> None:
    await courtesy.notice(query, texts.stale_button() if who.linked else texts.unlinked_alert())


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(on_anything)
    router.callback_query.register(on_unknown_button)
    return router
