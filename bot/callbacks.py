"""Typed callback data. Telegram caps it at 64 bytes, so prefixes are short and enums are stored by value.

Callback data says what was pressed, never who may do it: every handler checks the database.
The confirm flow keeps its progress *in* the button (mode, outcome, checklist answers so far), so it survives a
restart and needs no server-side state; the answers are the volunteer's own input, not a permission.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class VisitAction(StrEnum):
    PROBLEM = "p"
    SOS = "s"


class ConfirmCb(CallbackData, prefix="c"):
    visit_id: int
    mode: str = ""  # VisitMode value, once chosen
    outcome: str = ""  # VisitOutcome value, once chosen
    answers: str = ""  # one letter per checklist item answered so far: o(k) or c(oncern)


class VisitCb(CallbackData, prefix="v"):
    action: VisitAction
    visit_id: int


class DetailWhat(StrEnum):
    NOTE = "n"
    PHOTO = "p"
    LOCATION = "l"
    DONE = "d"


class DetailCb(CallbackData, prefix="d"):
    what: DetailWhat
    visit_id: int


class ElderPurpose(StrEnum):
    PROBLEM = "p"
    SOS = "s"
    UNPLANNED = "u"


class ElderCb(CallbackData, prefix="e"):
    purpose: ElderPurpose
    elder_id: int


class UnplannedDay(StrEnum):
    """On the 1st an unplanned visit may be yesterday's, last month's (asked only then)."""

    ASK = ""
    TODAY = "t"
    YESTERDAY = "y"


class UnplannedModeCb(CallbackData, prefix="um"):
    elder_id: int
    mode: str
    day: UnplannedDay = UnplannedDay.ASK


class CategoryCb(CallbackData, prefix="pc"):
    elder_id: int
    visit_id: int  # 0: not from a visit
    category: str


class UrgentCb(CallbackData, prefix="pu"):
    urgent: bool


class IncidentAction(StrEnum):
    ACK = "a"
    NOTE = "n"


class IncidentCb(CallbackData, prefix="i"):
    action: IncidentAction
    incident_id: int


class LanguageCb(CallbackData, prefix="lang"):
    code: str
