"""Coordinators in the chat: this month's visit rate, overdue and unassigned visits, acknowledging emergencies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, texts
from carevisit.bot.callbacks import IncidentAction, IncidentCb
from carevisit.bot.filters import IsCoordinator
from carevisit.care.access import coordinator_area
from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.visit_queries import overdue_visits, unassigned_visits
from carevisit.care.visit_rate import visit_rate
from carevisit.escalation.incident_queries import incident_in_area
from carevisit.escalation.incidents import acknowledge
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Coordinator


async def on_stats(
    message: Message, coordinator: Coordinator, session: AsyncSession, clock: Clock, zone: ZoneInfo
) -> None:
    area = await coordinator_area(session, coordinator=coordinator)
    month = month_of(local_today(clock, zone))
    rate = await visit_rate(session, month=month, area=area)
    await message.answer(texts.stats(area.name, month, rate))


async def on_overdue(
    message: Message, coordinator: Coordinator, session: AsyncSession, clock: Clock, zone: ZoneInfo
) -> None:
    area = await coordinator_area(session, coordinator=coordinator)
    rows = await overdue_visits(session, area=area, today=local_today(clock, zone), now=clock.now())
    await message.answer(texts.visit_table(texts.overdue_title(), rows))


async def on_unassigned(
    message: Message, coordinator: Coordinator, session: AsyncSession, clock: Clock, zone: ZoneInfo
) -> None:
    area = await coordinator_area(session, coordinator=coordinator)
    rows = await unassigned_visits(session, area=area, month=month_of(local_today(clock, zone)))
    await message.answer(texts.visit_table(texts.unassigned_title(), rows))


async def on_acknowledge(
    query: CallbackQuery, callback_data: IncidentCb, coordinator: Coordinator, session: AsyncSession, clock: Clock
) -> None:
    if coordinator.role == CoordinatorRole.VIEWER:  # may read the area's emergencies, not act on them
        await courtesy.notice(query, texts.viewer_cannot_acknowledge())
        return
    area = await coordinator_area(session, coordinator=coordinator)
    await incident_in_area(session, incident_id=callback_data.incident_id, area=area)
    won = await acknowledge(
        session,
        clock=clock,
        incident_id=callback_data.incident_id,
        by=f"coordinator:{coordinator.id}",
        channel="telegram",
    )
    await session.commit()
    text = (
        texts.acknowledged(callback_data.incident_id) if won else texts.already_acknowledged(callback_data.incident_id)
    )
    await courtesy.answer(query, text)
    await courtesy.take_buttons(query)
    await courtesy.say_to(query, text)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.filter(IsCoordinator())
    router.callback_query.filter(IsCoordinator())
    router.message.register(on_stats, Command("stats"))
    router.message.register(on_overdue, Command("overdue"))
    router.message.register(on_unassigned, Command("unassigned"))
    router.callback_query.register(on_acknowledge, IncidentCb.filter(F.action == IncidentAction.ACK))
    return router
