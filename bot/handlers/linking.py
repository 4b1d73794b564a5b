"""Linking a Telegram account: `/start <token>` from an invitation, or the volunteer's own shared contact."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.chat_accounts import ChatUser, Linked, LinkRefused, link_by_contact, redeem_invitation
from carevisit.bot.filters import has_contact
from carevisit.bot.middlewares import locale_for
from carevisit.care.clock import Clock


async def _welcome(message: Message, linked: Linked, i18n: I18n) -> None:
    assert message.from_user is not None
    # The profile's language may have just been set from the app's: speak it from the first message.
    with i18n.use_locale(locale_for(None, message.from_user.language_code, i18n.current_locale)):
        if linked.role == "volunteer":
            await courtesy.say(message, texts.link_ok(linked.name), keyboards.volunteer_menu())
        else:
            await courtesy.say(message, texts.link_ok_coordinator(linked.name), ReplyKeyboardRemove())


async def on_start_with_token(
    message: Message, command: CommandObject, session: AsyncSession, clock: Clock, i18n: I18n
) -> None:
    assert message.from_user is not None
    try:
        linked = await redeem_invitation(
            session,
            clock=clock,
            token=(command.args or "").strip(),
            telegram_user_id=message.from_user.id,
            chat_id=message.chat.id,
            language=locale_for(None, message.from_user.language_code, i18n.default_locale),
        )
    except LinkRefused as refused:
        await session.rollback()
        await message.answer(texts.link_refused(refused.reason), reply_markup=keyboards.share_contact())
        return
    await session.commit()
    await _welcome(message, linked, i18n)


async def on_start(message: Message, who: ChatUser) -> None:
    if who.volunteer:
        await message.answer(texts.volunteer_help(), reply_markup=keyboards.volunteer_menu())
    elif who.coordinator:
        await message.answer(texts.coordinator_help())
    else:
        await message.answer(texts.unlinked(), reply_markup=keyboards.share_contact())


async def on_contact(message: Message, session: AsyncSession, clock: Clock, region: str, i18n: I18n) -> None:
    assert message.from_user is not None and message.contact is not None
    try:
        linked = await link_by_contact(
            session,
            clock=clock,
            telegram_user_id=message.from_user.id,
            chat_id=message.chat.id,
            contact_user_id=message.contact.user_id,
            phone=message.contact.phone_number,
            region=region,
            language=locale_for(None, message.from_user.language_code, i18n.default_locale),
        )
    except LinkRefused as refused:
        await session.rollback()
        await message.answer(texts.link_refused(refused.reason), reply_markup=keyboards.share_contact())
        return
    await session.commit()
    await _welcome(message, linked, i18n)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(on_start_with_token, CommandStart(deep_link=True))
    router.message.register(on_start, CommandStart())
    router.message.register(on_contact, has_contact)
    return router
