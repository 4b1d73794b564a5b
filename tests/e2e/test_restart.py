"""Story 4: the service is restarted in the middle of an emergency; the new instance carries on where the old one
stopped — the next step goes out once, nothing already sent is sent again."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.parts.escalation import STOP_GRACE
from carevisit.storage.enums import IncidentStatus
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, CONTACT2, VOLUNTEER_TG, People, Stack, eventually

LANG = "zh_CN"


async def test_a_restart_mid_escalation_sends_the_next_step_once_and_repeats_nothing(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await sos(volunteer)
    await stack.paged(CONTACT1)
    await stack.stop()

    await stack.start()  # a new process on the same database
    await stack.quiet()
    assert len(stack.twilio.sms_to(CONTACT1)) == 1 and len(stack.twilio.calls_to(CONTACT1)) == 1
    assert stack.twilio.sms_to(CONTACT2) == []

    await stack.tick(minutes=5)
    await stack.paged(CONTACT2)
    await stack.quiet()
    assert len(stack.twilio.sms_to(CONTACT1)) == 1 and len(stack.twilio.calls_to(CONTACT1)) == 1
    assert len(stack.twilio.sms_to(CONTACT2)) == 1 and len(stack.twilio.calls_to(CONTACT2)) == 1
    assert (await stack.incident()).status == IncidentStatus.OPEN

    # The volunteer hears about each step once, across the restart.
    await stack.tick(seconds=1)
    await eventually(lambda: any("王强" in m for m in stack.tg.texts(VOLUNTEER_TG) if "🔔" in m), "step 2 notice")
    notices = [m for m in stack.tg.texts(VOLUNTEER_TG) if "🔔" in m]
    assert len(notices) == 2, notices


async def test_a_restart_while_twilio_has_not_answered_yet_does_not_page_twice(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    # Twilio takes the first page but answers only after the stop has given up waiting for the cycle to finish.
    stack.twilio.hang_next(STOP_GRACE + 3.0, process=True)
    await sos(volunteer)
    await stack.paged(CONTACT1)
    await stack.stop()

    await stack.start()
    await stack.quiet()
    assert len(stack.twilio.sms_to(CONTACT1)) == 1 and len(stack.twilio.calls_to(CONTACT1)) == 1

    await stack.tick(minutes=5)
    await stack.paged(CONTACT2)
    await stack.quiet()
    assert len(stack.twilio.sms_to(CONTACT1)) == 1 and len(stack.twilio.calls_to(CONTACT1)) == 1
    assert len(stack.twilio.sms_to(CONTACT2)) == 1 and len(stack.twilio.calls_to(CONTACT2)) == 1
