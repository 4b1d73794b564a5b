"""Emergencies: one tap from a visit or /sos. The bot opens (and commits) an incident for the escalation engine,
then sends the emergency numbers and the elder's contacts, and asks for the handling record afterwards."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.callbacks import ElderCb, ElderPurpose, IncidentAction, IncidentCb, VisitAction, VisitCb
from carevisit.bot.emergencies import Emergencies
from carevisit.bot.filters import MenuButton, has_text
from carevisit.bot.handlers.elders import ask_for_elder
from carevisit.bot.routers import volunteer_router
from carevisit.bot.states import HandlingRecord
from carevisit.care.clock import Clock
from carevisit.care.confirmations import assigned_visit, served_elder
from carevisit.escalation.incident_queries import incident_reported_by
from carevisit.escalation.incidents import add_note
from carevisit.fieldwork.context import FieldContext
from carevisit.fieldwork.emergencies import raise_emergency
from carevisit.storage.models import Volunteer


async def on_visit_sos(
    query: CallbackQuery,
    callback_data: VisitCb,
    volunteer: Volunteer,
    session: AsyncSession,
    field: FieldContext,
    emergencies: Emergencies,
) -> None:
    assert volunteer.id is not None
    _visit, elder = await assigned_visit(session, visit_id=callback_data.visit_id, volunteer_id=volunteer.id)
    raised = await raise_emergency(session, field, volunteer=volunteer, elder=elder, visit_id=callback_data.visit_id)
    await session.commit()  # the emergency exists before anything is asked of Telegram
    await emergencies.tell(query, raised)
    await courtesy.answer(query)


async def on_sos(
    message: Message,
    volunteer: Volunteer,
    session: AsyncSession,
    clock: Clock,
    zone: ZoneInfo,
    state: FSMContext,
    emergencies: Emergencies,
) -> None:
    # The numbers go out before anything else: the volunteer may not get as far as choosing the elder.
    await emergencies.numbers(message)
    await ask_for_elder(
        message, ElderPurpose.SOS, volunteer=volunteer, session=session, clock=clock, zone=zone, state=state
    )


async def on_sos_elder(
    query: CallbackQuery,
    callback_data: ElderCb,
    volunteer: Volunteer,
    session: AsyncSession,
    state: FSMContext,
    field: FieldContext,
    emergencies: Emergencies,
) -> None:
    assert volunteer.id is not None
    elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
    raised = await raise_emergency(session, field, volunteer=volunteer, elder=elder)
    await session.commit()
    await state.clear()
    await emergencies.tell(query, raised, numbers=False)  # /sos sent them before the elder was chosen
    await courtesy.answer(query)


async def on_record(
    query: CallbackQuery, callback_data: IncidentCb, volunteer: Volunteer, session: AsyncSession, state: FSMContext
) -> None:
    assert volunteer.id is not None
    await incident_reported_by(session, incident_id=callback_data.incident_id, volunteer_id=volunteer.id)
    await state.set_state(HandlingRecord.what_happened)
    await state.update_data(incident_id=callback_data.incident_id)
    await courtesy.answer(query)
    await courtesy.say_to(query, texts.ask_what_happened())


async def on_what_happened(message: Message, state: FSMContext) -> None:
    await state.update_data(what_happened=message.text)
    await state.set_state(HandlingRecord.actions_taken)
    await message.answer(texts.ask_actions_taken())


async def on_actions_taken(message: Message, state: FSMContext) -> None:
    await state.update_data(actions_taken=message.text)
    await state.set_state(HandlingRecord.outcome)
    await message.answer(texts.ask_outcome_text())


async def on_record_outcome(
    message: Message, state: FSMContext, volunteer: Volunteer, session: AsyncSession, clock: Clock
) -> None:
    assert volunteer.id is not None
    data = await state.get_data()
    incident = await incident_reported_by(session, incident_id=data["incident_id"], volunteer_id=volunteer.id)
    assert incident.id is not None
    add_note(
        session,
        clock=clock,
        incident_id=incident.id,
        author=f"volunteer:{volunteer.id}",
        what_happened=data.get("what_happened", ""),
        actions_taken=data.get("actions_taken", ""),
        outcome=message.text or "",
    )
    await session.commit()
    await state.clear()  # only now: a retry after a failed write still has the first two answers
    await courtesy.say(message, texts.record_saved(), keyboards.record(incident.id))


async def on_record_not_text(message: Message) -> None:
    await message.answer(texts.need_text())


def setup() -> Router:
    router = volunteer_router(__name__)
    router.callback_query.register(on_visit_sos, VisitCb.filter(F.action == VisitAction.SOS))
    router.message.register(on_sos, Command("sos"))
    router.message.register(on_sos, MenuButton("Emergency"))
    router.callback_query.register(on_sos_elder, ElderCb.filter(F.purpose == ElderPurpose.SOS))
    router.callback_query.register(on_record, IncidentCb.filter(F.action == IncidentAction.NOTE))
    router.message.register(on_what_happened, HandlingRecord.what_happened, has_text)
    router.message.register(on_actions_taken, HandlingRecord.actions_taken, has_text)
    router.message.register(on_record_outcome, HandlingRecord.outcome, has_text)
    router.message.register(on_record_not_text, HandlingRecord.what_happened)
    router.message.register(on_record_not_text, HandlingRecord.actions_taken)
    router.message.register(on_record_not_text, HandlingRecord.outcome)
    return router
