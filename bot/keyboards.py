"""Inline and reply keyboards; button captions come from `texts`, callback data from `callbacks`."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from carevisit.bot import texts
from carevisit.bot.callbacks import (
    CategoryCb,
    ConfirmCb,
    DetailCb,
    DetailWhat,
    ElderCb,
    ElderPurpose,
    IncidentAction,
    IncidentCb,
    LanguageCb,
    UnplannedDay,
    UnplannedModeCb,
    UrgentCb,
    VisitAction,
    VisitCb,
)
from carevisit.care.ports import Button
from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome
from carevisit.storage.models import Elder, Visit

CHAT_MODES = (VisitMode.HOME, VisitMode.PHONE, VisitMode.VIDEO)


def _markup(*rows: list[tuple[str, CallbackData]]) -> InlineKeyboardMarkup:
    """Built directly: aiogram's keyboard builder deep-copies every button, which shows on the confirm path."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data.pack()) for text, data in row] for row in rows
        ]
    )


def _chunks(buttons: list[tuple[str, CallbackData]], size: int) -> list[list[tuple[str, CallbackData]]]:
    return [buttons[i : i + size] for i in range(0, len(buttons), size)]


def visits(rows: list[tuple[Visit, Elder]]) -> InlineKeyboardMarkup | None:
    """One row per visit open now; every button names its elder, so nobody taps the wrong elder's SOS."""
    if not rows:
        return None
    return _markup(*(_visit_row(visit, elder) for visit, elder in rows))


def _visit_row(visit: Visit, elder: Elder) -> list[tuple[str, CallbackData]]:
    assert visit.id is not None
    return [
        (f"✅ {elder.name}", ConfirmCb(visit_id=visit.id)),
        (f"⚠️ {elder.name}", VisitCb(action=VisitAction.PROBLEM, visit_id=visit.id)),
        (f"🆘 {elder.name}", VisitCb(action=VisitAction.SOS, visit_id=visit.id)),
    ]


def modes(step: ConfirmCb) -> InlineKeyboardMarkup:
    return _markup([(texts.mode_label(m), ConfirmCb(visit_id=step.visit_id, mode=m.value)) for m in CHAT_MODES])


def outcomes(step: ConfirmCb) -> InlineKeyboardMarkup:
    """ "All fine" confirms at once (the checklist all OK); "has a problem" goes through the checklist; "urgent"
    confirms and raises the emergency."""

    def on(outcome: VisitOutcome) -> ConfirmCb:
        return ConfirmCb(visit_id=step.visit_id, mode=step.mode, outcome=outcome.value)

    return _markup(
        [(f"👍 {texts.all_fine()}", on(VisitOutcome.WELL))],
        [
            (texts.outcome_label(VisitOutcome.PROBLEM), on(VisitOutcome.PROBLEM)),
            (f"🆘 {texts.outcome_label(VisitOutcome.URGENT)}", on(VisitOutcome.URGENT)),
        ],
    )


def checklist_answer(step: ConfirmCb, key: str) -> InlineKeyboardMarkup:
    def answered(letter: str) -> ConfirmCb:
        return ConfirmCb(visit_id=step.visit_id, mode=step.mode, outcome=step.outcome, answers=step.answers + letter)

    fine, concern = texts.checklist_answers(key)
    return _markup([(fine, answered("o")), (concern, answered("c"))])


def details(visit_id: int) -> InlineKeyboardMarkup:
    return _markup(
        [
            (texts.button_note(), DetailCb(what=DetailWhat.NOTE, visit_id=visit_id)),
            (texts.button_photo(), DetailCb(what=DetailWhat.PHOTO, visit_id=visit_id)),
            (texts.button_location(), DetailCb(what=DetailWhat.LOCATION, visit_id=visit_id)),
        ],
        [(texts.button_done(), DetailCb(what=DetailWhat.DONE, visit_id=visit_id))],
    )


def elders(purpose: ElderPurpose, rows: list[Elder]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for elder in rows:
        assert elder.id is not None
        builder.button(text=elder.name, callback_data=ElderCb(purpose=purpose, elder_id=elder.id))
    builder.adjust(2)
    return builder.as_markup()


def unplanned_modes(elder_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for mode in CHAT_MODES:
        builder.button(text=texts.mode_label(mode), callback_data=UnplannedModeCb(elder_id=elder_id, mode=mode.value))
    return builder.as_markup()


def unplanned_days(step: UnplannedModeCb) -> InlineKeyboardMarkup:
    def on(day: UnplannedDay) -> UnplannedModeCb:
        return UnplannedModeCb(elder_id=step.elder_id, mode=step.mode, day=day)

    return _markup(
        [(texts.today(), on(UnplannedDay.TODAY)), (texts.yesterday_last_month(), on(UnplannedDay.YESTERDAY))]
    )


def categories(elder_id: int, visit_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in ProblemCategory:
        builder.button(
            text=texts.category_label(category),
            callback_data=CategoryCb(elder_id=elder_id, visit_id=visit_id, category=category.value),
        )
    builder.adjust(2)
    return builder.as_markup()


def urgency() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=texts.button_urgent_yes(), callback_data=UrgentCb(urgent=True))
    builder.button(text=texts.button_urgent_no(), callback_data=UrgentCb(urgent=False))
    return builder.as_markup()


def record(incident_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=texts.button_record(), callback_data=IncidentCb(action=IncidentAction.NOTE, incident_id=incident_id)
    )
    return builder.as_markup()


def record_buttons(incident_id: int) -> tuple[tuple[Button, ...], ...]:
    """`record` as plain buttons, for a message that may go through the chat outbox."""
    data = IncidentCb(action=IncidentAction.NOTE, incident_id=incident_id).pack()
    return ((Button(texts.button_record(), data),),)


def languages() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="中文", callback_data=LanguageCb(code="zh_CN"))
    builder.button(text="English", callback_data=LanguageCb(code="en"))
    return builder.as_markup()


def volunteer_menu() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=texts.menu_visits()), KeyboardButton(text=texts.menu_sos())]],
        resize_keyboard=True,
        is_persistent=True,
    )


def share_contact() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=texts.share_contact_button(), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def send_location() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=texts.button_send_location(), request_location=True)],
            [KeyboardButton(text=texts.button_cancel())],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
