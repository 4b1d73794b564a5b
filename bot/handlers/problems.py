"""Reporting a problem: category, a description (text, voice or photo), urgent or not. Non-urgent problems go
to the coordinators' referral queue; urgent ones also raise an emergency."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.callbacks import CategoryCb, ElderCb, ElderPurpose, UrgentCb, VisitAction, VisitCb
from carevisit.bot.emergencies import Emergencies
from carevisit.bot.filters import has_photo, has_text, has_voice
from carevisit.bot.handlers.elders import ask_for_elder
from carevisit.bot.must_arrive import Urgent
from carevisit.bot.routers import volunteer_router
from carevisit.bot.states import ProblemReport
from carevisit.care.clock import Clock
from carevisit.care.confirmations import assigned_visit, served_elder
from carevisit.fieldwork import problems
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.enums import ProblemCategory
from carevisit.storage.models import Volunteer


async def on_problem(
    message: Message, volunteer: Volunteer, session: AsyncSession, clock: Clock, zone: ZoneInfo, state: FSMContext
) -> None:
    await ask_for_elder(
        message, ElderPurpose.PROBLEM, volunteer=volunteer, session=session, clock=clock, zone=zone, state=state
    )


async def on_visit_problem(
    query: CallbackQuery, callback_data: VisitCb, volunteer: Volunteer, session: AsyncSession
) -> None:
    assert volunteer.id is not None
    visit, elder = await assigned_visit(session, visit_id=callback_data.visit_id, volunteer_id=volunteer.id)
    await courtesy.answer(query)
    await courtesy.show(query, texts.ask_category(elder), keyboards.categories(elder.id, visit.id))  # type: ignore[arg-type]


async def on_elder_problem(
    query: CallbackQuery, callback_data: ElderCb, volunteer: Volunteer, session: AsyncSession, state: FSMContext
) -> None:
    assert volunteer.id is not None
    elder = await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
    await state.clear()
    await courtesy.answer(query)
    await courtesy.show(query, texts.ask_category(elder), keyboards.categories(callback_data.elder_id, 0))


async def on_category(
    query: CallbackQuery, callback_data: CategoryCb, volunteer: Volunteer, session: AsyncSession, state: FSMContext
) -> None:
    assert volunteer.id is not None
    if callback_data.category not in {c.value for c in ProblemCategory}:
        await courtesy.notice(query, texts.stale_button())
        return
    if callback_data.visit_id:
        await assigned_visit(session, visit_id=callback_data.visit_id, volunteer_id=volunteer.id)
    await served_elder(session, volunteer_id=volunteer.id, elder_id=callback_data.elder_id)
    await state.set_state(ProblemReport.description)
    await state.set_data(
        {
            "elder_id": callback_data.elder_id,
            "visit_id": callback_data.visit_id or None,
            "category": callback_data.category,
        }
    )
    await courtesy.answer(query)
    await courtesy.show(query, texts.ask_description())


async def _described(message: Message, state: FSMContext, description: str, attachment: dict | None) -> None:
    data = await state.get_data()
    if attachment:
        data.setdefault("attachments", []).append(attachment)
    data["description"] = (data.get("description", "") + "\n" + description).strip()
    await state.set_data(data)
    await state.set_state(ProblemReport.urgency)
    await message.answer(texts.ask_urgency(), reply_markup=keyboards.urgency())


async def on_description_text(message: Message, state: FSMContext) -> None:
    await _described(message, state, message.text or "", None)


async def on_description_voice(message: Message, state: FSMContext) -> None:
    assert message.voice is not None
    await _described(message, state, "", {"kind": "voice", "file_id": message.voice.file_id})


async def on_description_photo(message: Message, state: FSMContext) -> None:
    assert message.photo
    await _described(message, state, message.caption or "", {"kind": "photo", "file_id": message.photo[-1].file_id})


async def on_description_other(message: Message) -> None:
    await message.answer(texts.need_text())


async def on_urgency(
    query: CallbackQuery,
    callback_data: UrgentCb,
    volunteer: Volunteer,
    session: AsyncSession,
    state: FSMContext,
    field: FieldContext,
    emergencies: Emergencies,
    epidemic_instructions: str,
) -> None:
    assert volunteer.id is not None
    data = await state.get_data()
    if await state.get_state() != ProblemReport.urgency.state or "elder_id" not in data:
        await courtesy.notice(query, texts.stale_button())
        return
    category = ProblemCategory(data["category"])
    reported = await problems.report(
        session,
        field,
        volunteer=volunteer,
        elder_id=data["elder_id"],
        visit_id=data.get("visit_id"),
        category=category,
        description=data.get("description", ""),
        urgent=callback_data.urgent,
        attachments=data.get("attachments"),
    )
    problem = reported.problem
    await session.commit()  # the report and its emergency together, before anything is asked of Telegram
    await state.clear()  # only now: a retry after a failed write still has the report
    if reported.raised is not None:
        await emergencies.tell(query, reported.raised)
    if category == ProblemCategory.INFECTIOUS:
        epidemic = Urgent(f"problem:{problem.id}:epidemic", texts.epidemic(epidemic_instructions))
        await emergencies.say(query, [epidemic])
    await courtesy.answer(query)
    await courtesy.show(query, texts.problem_filed(category))


def setup() -> Router:
    router = volunteer_router(__name__)
    router.message.register(on_problem, Command("problem"))
    router.callback_query.register(on_visit_problem, VisitCb.filter(F.action == VisitAction.PROBLEM))
    router.callback_query.register(on_elder_problem, ElderCb.filter(F.purpose == ElderPurpose.PROBLEM))
    router.callback_query.register(on_category, CategoryCb.filter())
    router.message.register(on_description_text, ProblemReport.description, has_text)
    router.message.register(on_description_voice, ProblemReport.description, has_voice)
    router.message.register(on_description_photo, ProblemReport.description, has_photo)
    router.message.register(on_description_other, ProblemReport.description)
    router.callback_query.register(on_urgency, UrgentCb.filter())
    return router
