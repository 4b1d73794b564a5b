"""Choosing an elder for a problem report, an emergency or an unplanned visit: the elders of one's upcoming
visits first, or any elder of one's communities by part of the name."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import keyboards, texts
from carevisit.bot.callbacks import ElderPurpose
from carevisit.bot.filters import IsVolunteer, has_text
from carevisit.bot.states import ElderSearch
from carevisit.care.clock import Clock, local_today
from carevisit.care.confirmations import elders_served
from carevisit.care.visit_queries import visits_for_volunteer
from carevisit.storage.models import Elder, Volunteer


async def ask_for_elder(
    message: Message,
    purpose: ElderPurpose,
    *,
    volunteer: Volunteer,
    session: AsyncSession,
    clock: Clock,
    zone: ZoneInfo,
    state: FSMContext,
) -> None:
    assert volunteer.id is not None
    rows = await visits_for_volunteer(session, volunteer_id=volunteer.id, today=local_today(clock, zone))
    seen: dict[int, Elder] = {}
    for _visit, elder in rows:
        if elder.id is not None:
            seen.setdefault(elder.id, elder)
    if not seen:
        seen = {e.id: e for e in await elders_served(session, volunteer_id=volunteer.id) if e.id is not None}
    await state.set_state(ElderSearch.name)
    await state.update_data(purpose=purpose.value)
    await message.answer(texts.choose_elder(), reply_markup=keyboards.elders(purpose, list(seen.values())[:10]))


async def on_elder_search(message: Message, volunteer: Volunteer, session: AsyncSession, state: FSMContext) -> None:
    assert volunteer.id is not None
    purpose = ElderPurpose((await state.get_data()).get("purpose", ElderPurpose.PROBLEM.value))
    found = await elders_served(session, volunteer_id=volunteer.id, search=message.text or "")
    if not found:
        await message.answer(texts.no_elders_found())
        return
    await message.answer(texts.choose_elder(), reply_markup=keyboards.elders(purpose, found))


def setup() -> Router:
    router = Router(name=__name__)
    router.message.filter(IsVolunteer())
    router.message.register(on_elder_search, ElderSearch.name, has_text)
    return router
