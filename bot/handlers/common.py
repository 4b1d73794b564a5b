"""/cancel, /help and /language, for everyone."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.callbacks import LanguageCb
from carevisit.bot.chat_accounts import ChatUser
from carevisit.bot.filters import MenuButton


async def on_cancel(message: Message, state: FSMContext, who: ChatUser) -> None:
    await state.clear()
    markup = keyboards.volunteer_menu() if who.volunteer else ReplyKeyboardRemove()
    await message.answer(texts.cancelled(), reply_markup=markup)


async def on_help(message: Message, who: ChatUser) -> None:
    if not who.linked:
        await message.answer(texts.unlinked(), reply_markup=keyboards.share_contact())
        return
    parts = []
    if who.volunteer:
        parts.append(texts.volunteer_help())
    if who.coordinator:
        parts.append(texts.coordinator_help())
    await message.answer("\n".join(parts))


async def on_language(message: Message, who: ChatUser) -> None:
    if not who.linked:
        await message.answer(texts.unlinked(), reply_markup=keyboards.share_contact())
        return
    await message.answer(texts.choose_language(), reply_markup=keyboards.languages())


async def on_language_chosen(
    query: CallbackQuery, callback_data: LanguageCb, who: ChatUser, session: AsyncSession, i18n: I18n
) -> None:
    if callback_data.code not in ("zh_CN", "en") or not who.linked:
        await courtesy.notice(query, texts.not_allowed())
        return
    for person in (who.volunteer, who.coordinator):
        if person is not None:
            person.language = callback_data.code
            session.add(person)
    await session.commit()
    with i18n.use_locale(callback_data.code):
        await courtesy.answer(query)
        await courtesy.say_to(query, texts.language_set(), keyboards.volunteer_menu() if who.volunteer else None)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(on_cancel, Command("cancel"), StateFilter("*"))
    router.message.register(on_cancel, MenuButton("Cancel"), StateFilter("*"))
    router.message.register(on_help, Command("help"))
    router.message.register(on_language, Command("language"))
    router.callback_query.register(on_language_chosen, LanguageCb.filter())
    return router
