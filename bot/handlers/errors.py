"""Domain refusals turned into friendly answers, in one place. Anything else is a bug: logged, and the user
gets a neutral apology rather than silence."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, User
from aiogram.utils.i18n import I18n

from carevisit.bot import texts
from carevisit.bot.chat_accounts import ChatUser
from carevisit.bot.middlewares import locale_for
from carevisit.care.access import NotAllowed
from carevisit.care.confirmations import ElderNotServed, VisitClosed, VisitNotYours

log = logging.getLogger(__name__)


async def _tell(event: ErrorEvent, render: Callable[[], str], data: dict[str, Any]) -> None:
    """Errors are handled outside the middlewares' context: enter the user's language again to render."""
    i18n: I18n | None = data.get("i18n")
    if i18n is None:
        return
    who: ChatUser | None = data.get("who")
    user: User | None = data.get("event_from_user")
    locale = locale_for(who.language if who else None, user.language_code if user else None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        text = render()
        update = event.update
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)


async def on_not_allowed(event: ErrorEvent, **data: Any) -> None:
    log.info("refused: %s", type(event.exception).__name__)
    await _tell(event, texts.not_yours if isinstance(event.exception, VisitNotYours) else texts.not_allowed, data)


async def on_visit_closed(event: ErrorEvent, **data: Any) -> None:
    await _tell(event, texts.visit_closed, data)


def setup() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_not_allowed, ExceptionTypeFilter(VisitNotYours, ElderNotServed, NotAllowed))
    router.errors.register(on_visit_closed, ExceptionTypeFilter(VisitClosed))
    return router
