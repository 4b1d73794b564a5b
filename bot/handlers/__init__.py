"""Handler routers in the order the dispatcher tries them. Each module's `setup()` builds a fresh router, so
several dispatchers (tests, a benchmark) can coexist in one process."""

from __future__ import annotations

from aiogram import Router

from carevisit.bot.handlers import (
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
    modules = [errors, common, linking, visits, emergency, problems, unplanned, elders, coordinator, fallback]
    return [module.setup() for module in modules]
