"""The same service configured for English (CAREVISIT_LANGUAGE=en) with a volunteer whose Telegram is in English:
every part speaks English to them — the bot, the SMS and the acknowledgement page, the chat notices, the dashboard."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.invitations import create_invitation
from tests.bot.conftest import t
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, VOLUNTEER_TG, People, Stack, eventually

LANG = "en"


async def test_an_english_service_speaks_english_everywhere(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    await stack.plan_month()
    await stack.start(language="en")
    token = await create_invitation(session, clock=stack.clock, created_by="cli", volunteer_id=people.volunteer.id)
    await session.commit()
    volunteer = stack.person(VOLUNTEER_TG, "en")
    await volunteer.send(f"/start {token}")
    assert "Welcome" in stack.tg.last_text(VOLUNTEER_TG)

    await sos(volunteer)
    assert t("Emergency: call now if needed", LANG) in stack.tg.texts(VOLUNTEER_TG)[-2]
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
    [link] = stack.ack_links(CONTACT1)
    assert "Page 1" in (stack.twilio.sms_to(CONTACT1)[0].body or "")
    assert stack.http is not None
    async with stack.http.get(link) as response:
        assert "Acknowledge the emergency alert" in await response.text()
    async with stack.http.post(link) as response:
        assert "Acknowledged, thank you" in await response.text()

    await stack.tick(seconds=2)
    await eventually(lambda: any("🔔" in m for m in stack.tg.texts(VOLUNTEER_TG)), "telling who was paged")
    await stack.tick(seconds=2)
    told = await eventually(
        lambda: next((m for m in stack.tg.texts(VOLUNTEER_TG) if "✅" in m), None), "telling the volunteer"
    )
    assert "acknowledged (link)" in told and "已" not in told

    coordinator = await stack.sign_in()
    async with coordinator.get("/") as response:
        assert "Visit rate this month" in await response.text()
    await coordinator.close()
