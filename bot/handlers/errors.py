"""Domain refusals turned into friendly answers, in one place; anything else is a bug, and the person still gets an
answer: a neutral apology.

A refusal is the handler's final word (the update is done). An unforeseen error is not swallowed: it goes on to
the update processor, which retries the update and in the end sets it aside with a log line. The apology is said
once, on the last attempt, so a retry that works leaves no apology behind and a lasting failure leaves one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, User
from aiogram.utils.i18n import I18n

from carevisit.bot import courtesy, texts
from carevisit.bot.middlewares import locale_for
from carevisit.care.access import NotAllowed
from carevisit.care.confirmations import ElderNotServed, VisitClosed, VisitNotYours

log = logging.getLogger(__name__)


async def _tell(event: ErrorEvent, render: Callable[[], str], data: dict[str, Any]) -> None:
    """Errors are handled outside the middlewares' context: enter the user's language again to render (as the
    locale middleware found it; the session may be unusable now). A tap is answered with an alert, or with a
    message when it is too late to answer it."""
    i18n: I18n | None = data.get("i18n")
    if i18n is None:
        return
    user: User | None = data.get("event_from_user")
    locale = data.get("locale") or locale_for(None, user.language_code if user else None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        text = render()
        update = event.update
        if update.callback_query is not None:
            await courtesy.notice(update.callback_query, text)
        elif update.message is not None:
            await courtesy.say(update.message, text)


async def on_not_allowed(event: ErrorEvent, **data: Any) -> None:
    log.info("refused: %s", type(event.exception).__name__)
    await _tell(event, texts.not_yours if isinstance(event.exception, VisitNotYours) else texts.not_allowed, data)


async def on_visit_closed(event: ErrorEvent, **data: Any) -> None:
    await _tell(event, texts.visit_closed, data)


async def on_unforeseen(event: ErrorEvent, **data: Any) -> Any:
    """Apologise if this is the last attempt, then let the error go on (UNHANDLED re-raises it in aiogram)."""
    delivery = data.get("delivery")  # given by the stored-update processor; fed directly, there is no retry
    if delivery is None or await delivery.is_last_attempt():
        await _tell(event, texts.apology, data)
    return UNHANDLED


def setup() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_not_allowed, ExceptionTypeFilter(VisitNotYours, ElderNotServed, NotAllowed))
    router.errors.register(on_visit_closed, ExceptionTypeFilter(VisitClosed))
    router.errors.register(on_unforeseen, ExceptionTypeFilter(Exception))
    return router
