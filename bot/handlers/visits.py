"""A volunteer's visits: the list (every button naming its elder; visits not open yet shown without buttons),
confirming one in at most 4 taps (visit, mode, "all fine" / "has a problem" → the checklist / "urgent"), then an
optional note, photo or location. A photo sent within minutes of confirming belongs to that visit without asking.

What a confirmation does is `carevisit.fieldwork.visits.confirm`, shared with the volunteer app."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot import courtesy, keyboards, texts
from carevisit.bot.callbacks import ConfirmCb, DetailCb, DetailWhat
from carevisit.bot.emergencies import Emergencies
from carevisit.bot.filters import MenuButton, has_location, has_photo, has_text
from carevisit.bot.routers import volunteer_router
from carevisit.bot.states import VisitDetails
from carevisit.care.clock import Clock, local_today
from carevisit.care.confirmations import (
    CONCERN,
    OK,
    ChecklistItem,
    VisitClosed,
    add_visit_details,
    assigned_visit,
)
from carevisit.care.month_close import is_open
from carevisit.care.visit_queries import visits_for_volunteer
from carevisit.fieldwork import visits
from carevisit.fieldwork.context import FieldContext
from carevisit.scheduler.reminders import OPEN_VISITS
from carevisit.storage.enums import VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Volunteer

_LETTERS = {"o": OK, "c": CONCERN}
RECENT = timedelta(minutes=10)  # how long a photo sent without asking still belongs to the visit just confirmed


async def on_visits(
    message: Message, volunteer: Volunteer, session: AsyncSession, clock: Clock, zone: ZoneInfo, state: FSMContext
) -> None:
    await state.clear()  # the list starts afresh: a half-finished search or note is dropped
    text, markup = await _visit_list(session, volunteer=volunteer, today=local_today(clock, zone))
    await message.answer(text, reply_markup=markup)


async def on_open_visits(
    query: CallbackQuery, volunteer: Volunteer, session: AsyncSession, clock: Clock, zone: ZoneInfo, state: FSMContext
) -> None:
    """The daily digest's button: the list, as a message of its own below the digest."""
    await state.clear()
    text, markup = await _visit_list(session, volunteer=volunteer, today=local_today(clock, zone))
    await courtesy.answer(query)
    await courtesy.say_to(query, text, markup)


async def _visit_list(
    session: AsyncSession, *, volunteer: Volunteer, today: date
) -> tuple[str, InlineKeyboardMarkup | None]:
    assert volunteer.id is not None
    rows = await visits_for_volunteer(session, volunteer_id=volunteer.id, today=today)
    open_now = [(visit, elder) for visit, elder in rows if visit.window_start <= today][:10]
    upcoming = [(visit, elder) for visit, elder in rows if visit.window_start > today][:5]
    return texts.visits_list(open_now, today, upcoming), keyboards.visits(open_now)


async def on_confirm_step(
    query: CallbackQuery,
    callback_data: ConfirmCb,
    volunteer: Volunteer,
    session: AsyncSession,
    clock: Clock,
    zone: ZoneInfo,
    field: FieldContext,
    emergencies: Emergencies,
) -> None:
    assert volunteer.id is not None
    step, checklist = callback_data, field.checklist
    if not _valid(step, len(checklist)):
        await courtesy.notice(query, texts.stale_button())
        return
    all_fine = step.outcome == VisitOutcome.WELL and not step.answers  # (a button of the old flow has answers)
    complete = bool(step.outcome) and len(step.answers) == len(checklist)
    if not (step.outcome == VisitOutcome.URGENT or all_fine or complete):
        await _next_question(query, step, volunteer, session, checklist, today=local_today(clock, zone))
        return
    answers = {item.key: _LETTERS[letter] for item, letter in zip(checklist, step.answers, strict=False)}
    confirmed = await visits.confirm(
        session,
        field,
        volunteer=volunteer,
        visit_id=step.visit_id,
        mode=VisitMode(step.mode),
        outcome=VisitOutcome(step.outcome),
        answers=answers,
        all_fine=all_fine,
    )
    await session.commit()  # the confirmation and its emergency together, before anything is asked of Telegram
    done = confirmed.confirmation
    if confirmed.raised is not None:
        await emergencies.tell(query, confirmed.raised)
    await courtesy.answer(query)
    if done.already_done:
        await courtesy.show(query, texts.already_confirmed(done.elder), keyboards.details(step.visit_id))
    else:
        await courtesy.show(query, texts.confirmed(done.elder, len(done.problems)), keyboards.details(step.visit_id))


async def _next_question(
    query: CallbackQuery,
    step: ConfirmCb,
    volunteer: Volunteer,
    session: AsyncSession,
    checklist: tuple[ChecklistItem, ...],
    *,
    today: date,
) -> None:
    assert volunteer.id is not None
    visit, elder = await assigned_visit(session, visit_id=step.visit_id, volunteer_id=volunteer.id)
    closed = visit.status == VisitStatus.PLANNED and not is_open(visit.month, today=today)
    if visit.status not in (VisitStatus.PLANNED, VisitStatus.DONE) or closed:
        raise VisitClosed(step.visit_id)  # at the first tap, not after the whole checklist
    await courtesy.answer(query)
    if visit.status == VisitStatus.DONE:
        await courtesy.show(query, texts.already_confirmed(elder), keyboards.details(step.visit_id))
    elif not step.mode:
        await courtesy.show(query, texts.ask_mode(elder), keyboards.modes(step))
    elif not step.outcome:
        await courtesy.show(query, texts.ask_outcome(elder), keyboards.outcomes(step))
    else:
        n = len(step.answers)
        question = texts.ask_checklist(elder, checklist[n].key, n + 1, len(checklist))
        await courtesy.show(query, question, keyboards.checklist_answer(step, checklist[n].key))


def _valid(step: ConfirmCb, checklist_length: int) -> bool:
    """Crafted or out-of-date button data (unknown mode, too many answers) is refused, not trusted."""
    if step.mode and step.mode not in {m.value for m in keyboards.CHAT_MODES}:
        return False
    if step.outcome and (not step.mode or step.outcome not in {o.value for o in VisitOutcome}):
        return False
    if step.answers and (not step.outcome or len(step.answers) > checklist_length):
        return False
    return all(letter in _LETTERS for letter in step.answers)


async def on_detail(
    query: CallbackQuery,
    callback_data: DetailCb,
    volunteer: Volunteer,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
    zone: ZoneInfo,
) -> None:
    assert volunteer.id is not None
    visit, _elder = await assigned_visit(session, visit_id=callback_data.visit_id, volunteer_id=volunteer.id)
    if callback_data.what == DetailWhat.DONE:  # on to the next visit: the list again, no command to type
        await state.clear()
        text, markup = await _visit_list(session, volunteer=volunteer, today=local_today(clock, zone))
        await courtesy.answer(query)
        await courtesy.show(query, text, markup)
        return
    await state.update_data(visit_id=visit.id)
    await courtesy.answer(query)
    if callback_data.what == DetailWhat.NOTE:
        await state.set_state(VisitDetails.note)
        await courtesy.say_to(query, texts.ask_note())
    elif callback_data.what == DetailWhat.PHOTO:
        await state.set_state(VisitDetails.photo)
        await courtesy.say_to(query, texts.ask_photo())
    else:
        await state.set_state(VisitDetails.location)
        await courtesy.say_to(query, texts.ask_location(), keyboards.send_location())


async def _save_details(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock, volunteer: Volunteer, **details: object
) -> None:
    assert volunteer.id is not None
    visit_id = (await state.get_data()).get("visit_id")
    if visit_id is None:
        await state.clear()
        await message.answer(texts.stale_button())
        return
    await add_visit_details(session, clock=clock, visit_id=visit_id, volunteer_id=volunteer.id, **details)  # type: ignore[arg-type]
    await session.commit()
    await state.clear()  # only now: a retry after a failed write still knows the visit
    await courtesy.say(message, texts.details_saved(), keyboards.details(visit_id))


async def on_note(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock, volunteer: Volunteer
) -> None:
    await _save_details(message, state, session, clock, volunteer, note=message.text)


async def on_photo(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock, volunteer: Volunteer
) -> None:
    assert message.photo
    await _save_details(message, state, session, clock, volunteer, photo_ref=message.photo[-1].file_id)


async def on_location(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock, volunteer: Volunteer
) -> None:
    assert message.location
    await _save_details(
        message,
        state,
        session,
        clock,
        volunteer,
        latitude=message.location.latitude,
        longitude=message.location.longitude,
    )
    await courtesy.say(message, "📍", keyboards.volunteer_menu())  # takes the location keyboard away


async def on_detail_wrong_kind(message: Message) -> None:
    await message.answer(texts.need_text())


async def recently_confirmed(
    _message: Message, session: AsyncSession, volunteer: Volunteer, field: FieldContext
) -> bool | dict[str, int]:
    """A filter: passes `visit_id`, the visit this volunteer confirmed within `RECENT`, to the handler."""
    visit = await visits.just_confirmed(session, field, volunteer=volunteer, within=RECENT)
    return {"visit_id": visit.id} if visit is not None and visit.id is not None else False


async def on_photo_after_confirming(
    message: Message, visit_id: int, session: AsyncSession, clock: Clock, volunteer: Volunteer
) -> None:
    assert message.photo and volunteer.id is not None
    await add_visit_details(
        session, clock=clock, visit_id=visit_id, volunteer_id=volunteer.id, photo_ref=message.photo[-1].file_id
    )
    await session.commit()
    await courtesy.say(message, texts.details_saved(), keyboards.details(visit_id))


def setup() -> Router:
    router = volunteer_router(__name__)
    router.message.register(on_visits, Command("visits"))
    router.message.register(on_visits, MenuButton("My visits"))
    router.callback_query.register(on_confirm_step, ConfirmCb.filter())
    router.callback_query.register(on_open_visits, F.data == OPEN_VISITS)
    router.callback_query.register(on_detail, DetailCb.filter())
    router.message.register(on_note, VisitDetails.note, has_text)
    router.message.register(on_photo, VisitDetails.photo, has_photo)
    router.message.register(on_location, VisitDetails.location, has_location)
    router.message.register(on_photo_after_confirming, StateFilter(None), has_photo, recently_confirmed)
    router.message.register(on_detail_wrong_kind, VisitDetails.note)
    router.message.register(on_detail_wrong_kind, VisitDetails.photo)
    router.message.register(on_detail_wrong_kind, VisitDetails.location)
    return router
