"""The multi-message flows: where the bot waits for typed text, a photo or a location."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class VisitDetails(StatesGroup):
    note = State()
    photo = State()
    location = State()


class ProblemReport(StatesGroup):
    description = State()
    urgency = State()


class ElderSearch(StatesGroup):
    name = State()


class HandlingRecord(StatesGroup):
    what_happened = State()
    actions_taken = State()
    outcome = State()
