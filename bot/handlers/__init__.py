"""Handler routers in the order the dispatcher tries them (see `get_routers`)."""

from __future__ import annotations

from aiogram import Router

from bot.handlers import (
    common,
    coordinator,
    elders,
    emergency,
    errors,
    fallback,
    linking,
    problems,
    unplanned,
    visits,
)


def get_routers() -> list[Router]:
    # common (/cancel, /help, /language) and linking come before the role routers; fallback comes last.
    return [
        errors.router,
        common.router,
        linking.router,
        visits.router,
        emergency.router,
        problems.router,
        unplanned.router,
        elders.router,
        coordinator.router,
        fallback.router,
    ]
