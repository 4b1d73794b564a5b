"""What a volunteer does in the bot, one line a step, so tests read as stories: `await confirm(volunteer)`,
`await confirm(volunteer, mode="phone", outcome="problem", answers="cocoo")`.

Each step presses the buttons the bot really sent, by their captions in the person's language.
"""

from __future__ import annotations

from tests.bot.conftest import t
from tests.bot.fake_telegram import Person

MODES = {"home": "Home visit", "phone": "Phone call", "video": "Video call"}
OUTCOMES = {"well": "All fine (skip the checklist)", "problem": "Has a problem", "urgent": "Urgent!"}
# The two answers of each checklist question in order, (all right, a concern); one letter per question: o or c.
ANSWERS = (
    ("As usual", "Worse than usual"),
    ("As usual", "Low"),
    ("Often in touch", "Rarely in touch"),
    ("No hazard", "Hazard found"),
    ("Met", "Not met"),
)
ALL_FINE = "ooooo"


def language_of(person: Person) -> str:
    return "en" if person.language_code.startswith("en") else "zh_CN"


def answer_caption(person: Person, question: int, letter: str) -> str:
    """The caption answering the `question`-th checklist question (from 0) with o(k) or c(oncern)."""
    return t(ANSWERS[question]["oc".index(letter)], language_of(person))


async def open_visit(person: Person, row: int = 1) -> None:
    """/visits, then the ✅ button of the `row`-th visit in the list (each names its elder)."""
    await person.send("/visits")
    message, _ = person.tg.button(person.user_id, "✅")
    confirm_buttons = [r[0]["callback_data"] for r in message["reply_markup"]["inline_keyboard"]]
    await person.press_data(confirm_buttons[row - 1], message)


async def answer(person: Person, *, mode: str = "home", outcome: str = "well", answers: str = ALL_FINE) -> None:
    """How the visit was made, how the elder is, and the checklist (only after "has a problem")."""
    await person.press(t(MODES[mode], language_of(person)))
    await how_the_elder_is(person, outcome=outcome, answers=answers)


async def how_the_elder_is(person: Person, *, outcome: str = "well", answers: str = ALL_FINE) -> None:
    """How the elder is, and the checklist: "all fine" and "urgent" skip it, "has a problem" goes through it."""
    await person.press(t(OUTCOMES[outcome], language_of(person)))
    if outcome != "problem":
        return
    for question, letter in enumerate(answers):
        await person.press(answer_caption(person, question, letter))


async def confirm(
    person: Person, *, row: int = 1, mode: str = "home", outcome: str = "well", answers: str = ALL_FINE
) -> None:
    """Confirm the `row`-th visit of the list from start to end."""
    await open_visit(person, row)
    await answer(person, mode=mode, outcome=outcome, answers=answers)


async def sos(person: Person) -> None:
    """The 🆘 button of the first visit in /visits."""
    await person.send("/visits")
    await person.press("🆘")
