"""Story: a volunteer who has no Telegram signs in to the app by a link, confirms a visit in the browser, raises an
emergency from the app and watches it on the page: the family is paged by the real escalation engine and Twilio's
fake, a daughter acknowledges by the link in her SMS, the page says so, and the volunteer writes the handling record.

The whole service as `carevisit run` builds it, reached only over HTTP as a phone's browser would."""

from __future__ import annotations

import re

import aiohttp
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.volunteer_sign_in import issue_link_token
from carevisit.storage.enums import IncidentStatus, VisitStatus
from carevisit.storage.models import IncidentNote, Visit
from tests.e2e.conftest import CONTACT1, People, Stack, eventually
from tests.volunteer_app.visit_pages_fixtures import form_of, visible_text


async def test_a_volunteer_confirms_and_raises_an_emergency_in_the_app(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    await stack.plan_month()
    # The coordinator gave this volunteer 王秀英's visits (assigning is the dashboard's story).
    await session.exec(
        update(Visit)
        .where(col(Visit.elder_id) == people.elder.id, col(Visit.month) == "2026-03")
        .values(volunteer_id=people.volunteer.id)
    )
    await session.commit()
    await stack.start()
    assert people.volunteer.id is not None
    token = await issue_link_token(session, clock=stack.clock, volunteer_id=people.volunteer.id, created_by="test")
    await session.commit()

    phone = aiohttp.ClientSession(base_url=stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        action, fields = form_of(await (await phone.get(f"/v/in/{token}")).text())
        async with phone.post(action or f"/v/in/{token}", data=fields) as response:
            assert response.status == 200 and response.url.path == "/v/"
            home = await response.text()
        assert "王秀英" in visible_text(home)
        first = re.search(r'href="/v/visits/(\d+)"', home)
        assert first, "no visit to open"
        visit_id = int(first.group(1))

        how = await (await phone.get(f"/v/visits/{visit_id}/how?mode=home")).text()
        action, fields = form_of(how, f"/v/visits/{visit_id}/confirm")  # the first: 一切正常
        async with phone.post(action, data=fields) as response:
            assert response.url.path == f"/v/visits/{visit_id}/done"
            assert "王秀英的探访已确认" in visible_text(await response.text())
        visit = await session.get(Visit, visit_id, populate_existing=True)
        assert visit is not None and visit.status == VisitStatus.DONE

        sos = await (await phone.get("/v/sos")).text()
        assert all(f'href="tel:{n}"' in sos for n in ("120", "110", "119"))
        csrf = fields["csrf"]
        async with phone.post("/v/sos", data={"csrf": csrf, "elder_id": str(people.elder.id)}) as response:
            incident_path = response.url.path
            page = await response.text()
        assert f'href="tel:{CONTACT1}"' in page and "李娜（女儿）" in visible_text(page)

        await stack.paged(CONTACT1)
        incident = await stack.incident()
        assert incident_path == f"/v/incidents/{incident.id}"

        async def status() -> str:
            return visible_text(await (await phone.get(f"{incident_path}/status")).text())

        async def paging_shown() -> bool:
            return "短信通知李娜（女儿）" in await status()

        await eventually(paging_shown, "the page naming who was paged")
        [link] = stack.ack_links(CONTACT1)
        assert stack.http is not None
        async with stack.http.post(link) as response:
            assert response.status == 200
        assert (await stack.incident()).status == IncidentStatus.ACKNOWLEDGED
        assert "李娜（女儿）已确认收到" in await status()

        record = {"csrf": csrf, "what_happened": "老人在家中跌倒", "actions_taken": "拨打120", "outcome": "已送医"}
        async with phone.post(f"{incident_path}/record", data=record) as response:
            assert "处置记录已保存" in visible_text(await response.text())
        note = (await session.exec(select(IncidentNote))).one()
        assert (note.what_happened, note.outcome) == ("老人在家中跌倒", "已送医")
    finally:
        await phone.close()
