"""What a volunteer does in the bot, one line a step, so tests read as stories: `await confirm(volunteer)`,
`await confirm(volunteer, mode="phone", outcome="problem", answers="cocoo")`.

Each step presses the buttons the bot really sent, by their captions in the person's language.
"""

from __future__ import annotations

from tests.bot.conftest import t
from tests.bot.fake_telegram import Person

MODES = {"home": "Home visit", "phone": "Phone call", "video": "Video call"}
OUTCOMES = {"well": "Doing well", "problem": "Has a problem", "urgent": "Urgent!"}
ANSWERS = {"o": "OK", "c": "Concern"}  # one letter per checklist question, in order
ALL_FINE = "ooooo"


def language_of(person: Person) -> str:
    return "en" if person.language_code.startswith("en") else "zh_CN"


async def open_visit(person: Person, row: int = 1) -> None:
    """/visits, then the Confirm button of the `row`-th visit in the list."""
    await person.send("/visits")
    await person.press(f"{row} {t('Confirm', language_of(person))}")


async def answer(person: Person, *, mode: str = "home", outcome: str = "well", answers: str = ALL_FINE) -> None:
    """How the visit was made, how the elder is, and the checklist (none after an urgent outcome)."""
    await person.press(t(MODES[mode], language_of(person)))
    await how_the_elder_is(person, outcome=outcome, answers=answers)


async def how_the_elder_is(person: Person, *, outcome: str = "well", answers: str = ALL_FINE) -> None:
    """How the elder is, and the checklist (none after an urgent outcome)."""
    language = language_of(person)
    await person.press(t(OUTCOMES[outcome], language))
    if outcome == "urgent":
        return
    for letter in answers:
        await person.press(t(ANSWERS[letter], language))


async def confirm(
    person: Person, *, row: int = 1, mode: str = "home", outcome: str = "well", answers: str = ALL_FINE
) -> None:
    """Confirm the `row`-th visit of the list from start to end."""
    await open_visit(person, row)
    await answer(person, mode=mode, outcome=outcome, answers=answers)


async def sos(person: Person) -> None:
    """The SOS button of the first visit in /visits."""
    await person.send("/visits")
    await person.press(t("SOS", language_of(person)))
