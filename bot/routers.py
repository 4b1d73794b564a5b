"""What every router of a role shares, so a handler module only registers its handlers."""

from __future__ import annotations

from aiogram import Router

from carevisit.bot.emergencies import EmergenciesMiddleware
from carevisit.bot.filters import IsVolunteer


def volunteer_router(name: str) -> Router:
    """Messages and buttons of linked volunteers only; each handler may take `volunteer` and `emergencies`."""
    router = Router(name=name)
    router.message.filter(IsVolunteer())
    router.callback_query.filter(IsVolunteer())
    router.message.middleware(EmergenciesMiddleware())
    router.callback_query.middleware(EmergenciesMiddleware())
    return router
