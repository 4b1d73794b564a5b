"""The pages a family member opens from an emergency SMS — the code page `/a` and the signed link `/ack/…` — on a
390 px phone in Debian's Chromium: nothing scrolls sideways, every control is big enough for a thumb, and a code
typed in acknowledges with one button."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from carevisit.escalation import ack_codes
from carevisit.storage.enums import IncidentStatus
from tests.dashboard.conftest import PHONE, browser, needs_chromium  # noqa: F401 - browser is a fixture
from tests.dashboard.test_phone_layout import LAYOUT, SHOTS
from tests.escalation.conftest import CONTACT1, SECRET, World

pytestmark = needs_chromium


async def fits(page: Any, what: str) -> None:
    if SHOTS:  # a directory: keep a picture of each page to look at
        await page.screenshot(path=str(Path(SHOTS) / (re.sub(r"\W+", "_", what).strip("_") + ".png")), full_page=True)
    layout = await page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= layout["innerWidth"], f"{what} scrolls sideways: {layout['wide']}"
    assert layout["smallTargets"] == [], f"{what}: controls under 44 px high"


async def test_a_code_typed_on_a_phone_acknowledges_with_one_button(world: World, browser: Any) -> None:  # noqa: F811
    incident_id = await world.open()
    await world.tick()
    contact_id = world.contacts[0].id or 0
    async with world.sessions() as session:
        codes = await ack_codes.codes_for(
            session,
            clock=world.clock,
            secret=SECRET,
            incident_id=incident_id,
            targets=[("contact", contact_id)],
            lifetime=ack_codes.LIFETIME,
        )
        await session.commit()
    code = codes[("contact", contact_id)]
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    phone = await context.new_page()
    await phone.goto(f"{world.public_url}/a")
    await fits(phone, "the code page")
    await phone.fill("input[name=code]", f"{code[:3]} {code[3:]}")  # as people copy it, with a space
    await phone.click("button[type=submit]")
    await fits(phone, "the code's incident page")
    assert "王秀英" in await phone.content()
    await phone.click("button[type=submit]")
    assert "已确认" in await phone.content()
    assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
    await context.close()


async def test_the_signed_link_page_fits_a_phone(world: World, browser: Any) -> None:  # noqa: F811
    incident_id = await world.open()
    await world.tick()
    [link] = world.ack_links(CONTACT1)
    context = await browser.new_context(viewport=PHONE, locale="zh-CN")
    phone = await context.new_page()
    await phone.goto(link)
    await fits(phone, "the acknowledgement link's page")
    await phone.click("button[type=submit]")
    await fits(phone, "the acknowledged page")
    assert (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED
    await context.close()
