"""An unplanned visit: the volunteer picks an elder of their communities and the mode (and, on the 1st, whether it
was made today or yesterday, in last month), then confirms it like any planned visit (it joins the same confirm
flow)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.callbacks import ConfirmCb, ElderCb, ElderPurpose, UnplannedDay, UnplannedModeCb
from carevisit.bot.handlers.elders import ask_for_elder
from carevisit.bot.routers import volunteer_router
from carevisit.care.clock import Clock, local_today, month_of
from carevisit.care.confirmations import served_elder, start_unplanned_visit
from carevisit.care.month_close import in_grace
from carevisit.storage.enums import VisitMode
from carevisit.storage.models import Volunteer


async def on_unplanned(
    message: Message, volunteer: Volunteer, session: AsyncSession, clock: Clock, zone: ZoneInfo, state: FSMContext
) -> None:
    await ask_for_elder(
        message, ElderPurpose.UNPLANNED, volunteer=volunteer, session=session, clock=clock, zone=zone, state=state
    )


async def on_unplanned_elder(
    query: CallbackQuery, callback_data: ElderCb, volunteer: Volunteer, session: AsyncSession, state: FSMContext
) -> None:
    assert volunteer.id is not None
    elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
    await state.clear()
    await courtesy.answer(query)
    await courtesy.show(query, texts.ask_mode(elder), keyboards.unplanned_modes(callback_data.elder_id))


async def on_unplanned_mode(
    query: CallbackQuery,
    callback_data: UnplannedModeCb,
    volunteer: Volunteer,
    session: AsyncSession,
    clock: Clock,
    zone: ZoneInfo,
) -> None:
    assert volunteer.id is not None
    today = local_today(clock, zone)
    yesterday = today - timedelta(days=1)
    may_be_last_months = in_grace(month_of(yesterday), today=today)  # the 1st: yesterday's month is still open
    day = callback_data.day
    if callback_data.mode not in {m.value for m in keyboards.CHAT_MODES} or (
        day == UnplannedDay.YESTERDAY and not may_be_last_months
    ):
        await courtesy.notice(query, texts.stale_button())
        return
    if day == UnplannedDay.ASK and may_be_last_months:
        elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
        await courtesy.answer(query)
        await courtesy.show(query, texts.ask_day(elder), keyboards.unplanned_days(callback_data))
        return
    visit = await start_unplanned_visit(
        session,
        clock=clock,
        volunteer_id=volunteer.id,
        elder_id=callback_data.elder_id,
        today=yesterday if day == UnplannedDay.YESTERDAY else today,  # it counts in the month it was made
        mode=VisitMode(callback_data.mode),
    )
    elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
    await session.commit()
    assert visit.id is not None
    await courtesy.answer(query)
    await courtesy.show(
        query, texts.ask_outcome(elder), keyboards.outcomes(ConfirmCb(visit_id=visit.id, mode=callback_data.mode))
    )


def setup() -> Router:
    router = volunteer_router(__name__)
    router.message.register(on_unplanned, Command("unplanned"))
    router.callback_query.register(on_unplanned_elder, ElderCb.filter(F.purpose == ElderPurpose.UNPLANNED))
    router.callback_query.register(on_unplanned_mode, UnplannedModeCb.filter())
    return router
