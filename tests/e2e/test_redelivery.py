"""Telegram delivers an update again when it did not see our answer in time: the service handles it once."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Incident
from tests.e2e.conftest import CONTACT1, VOLUNTEER_TG, People, Stack, eventually

LANG = "zh_CN"


def answers(stack: Stack) -> list[str]:
    """What the bot answered in the chat (not the notices the escalation engine queues)."""
    return [m for m in stack.tg.texts(VOLUNTEER_TG) if not m.startswith("🔔")]


async def test_a_redelivered_sos_tap_opens_one_emergency_and_answers_once(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await volunteer.send("/visits")
    message, data = stack.tg.button(VOLUNTEER_TG, "🆘")
    before = len(answers(stack))

    update = await volunteer.press_data(data, message)
    assert len(answers(stack)) == before + 2  # the numbers and the contacts
    assert await stack.post_update(update) == 200  # the same update_id again
    # The volunteer's next message is handled after anything of theirs received before it (one chat, in order):
    # once it is answered, a second handling of the tap would have shown.
    await volunteer.send("/visits")
    newest_list, _ = stack.tg.button(VOLUNTEER_TG, "🆘")
    assert len(answers(stack)) == before + 3 and answers(stack)[-1] == stack.tg.sources[newest_list["message_id"]]
    await stack.quiet()
    assert len((await session.exec(select(Incident))).all()) == 1
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
    assert len(stack.twilio.sms_to(CONTACT1)) == 1
