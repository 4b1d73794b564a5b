"""One emergency's page over HTTP: its story in sentences and local time, its export in local time, forms that
say what is wrong."""

from __future__ import annotations

import csv
import html
import io
import re

from aiohttp.test_utils import TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.escalation import incidents
from carevisit.storage.enums import CoordinatorRole, IncidentStatus
from carevisit.storage.models import Incident, IncidentNote
from tests.dashboard.conftest import csrf_of, sign_in
from tests.dashboard.seed_pages import seed_programme


async def test_the_timeline_reads_as_sentences_in_local_time_without_codes(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    await coordinator_factory(seeded.community, "community-lead")
    client = await sign_in(server, "community-lead")
    async with client:
        page = await (await client.get(f"/incidents/{seeded.ids['incident_id']}")).text()
    assert "诸葛秀英 · 跌倒" in page and "确认人：诸葛丽丽（女儿）（短信，2026-03-10 10:03）" in page
    assert "03-10 10:00</time> 欧阳娜娜报告跌倒：老人在卫生间滑倒" in page
    assert (
        "短信通知诸葛丽丽（女儿） +86****78：已送达" in page and "电话通知诸葛丽丽（女儿） +86****78：无人接听" in page
    )
    # One daughter reached by SMS and by a call is one person paged, not two.
    assert "第1步开始通知1人" in page and "诸葛丽丽（女儿）确认收到（短信）" in page
    for code in ("sid", "queued", "opened", "incident.page", "no_answer", "contact:", '"step"', "SMsms"):
        assert code not in page, code


async def test_the_csv_export_is_in_local_time_and_names_the_zone(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    await coordinator_factory(seeded.community, "community-lead")
    client = await sign_in(server, "community-lead")
    async with client:
        response = await client.get(f"/incidents/{seeded.ids['incident_id']}/export.csv")
        rows = list(csv.reader(io.StringIO((await response.text()).lstrip("\ufeff"))))
    assert rows[0][0] == "at (Asia/Shanghai)"
    assert rows[1][:2] == ["2026-03-10 10:00:00", "opened"]  # 02:00 UTC
    assert all("+00:00" not in row[0] for row in rows[1:])


async def test_a_drill_for_an_unknown_elder_names_the_id_and_opens_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    await coordinator_factory(seeded.community, "community-lead")
    client = await sign_in(server, "community-lead")
    async with client:
        csrf = await csrf_of(client, "/drill")
        response = await client.post("/drill", data={"csrf": csrf, "elder_code": "FT-9999"})
        text = await response.text()
    assert response.status == 400 and "老人编号 FT-9999 不存在" in text and 'value="FT-9999"' in text
    drills = (await session.exec(select(Incident).where(Incident.is_drill))).all()
    assert drills == []


async def test_a_viewer_sees_the_incident_but_cannot_resolve_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    await coordinator_factory(seeded.community, "viewer", role=CoordinatorRole.VIEWER)
    client = await sign_in(server, "viewer")
    path = f"/incidents/{seeded.ids['incident_id']}"
    async with client:
        page = await (await client.get(path)).text()
        assert "处置经过" in page and f'action="{path}/resolve"' not in page  # no button only to be refused
        cookie = next(c.value for c in client.cookie_jar if c.key == COOKIE)
        csrf = SessionSigner(b"test-secret").csrf_token(cookie)  # a valid token, as the server would issue it
        response = await client.post(f"{path}/resolve", data={"csrf": csrf, "outcome": "已送医"})
        assert response.status == 403 and "只读账号" in await response.text()
    incident = await session.get(Incident, seeded.ids["incident_id"], populate_existing=True)
    assert incident is not None and incident.status == IncidentStatus.ACKNOWLEDGED


def _textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea name="{name}"[^>]*>([^<]*)</textarea>', page)
    assert found, page
    return html.unescape(found.group(1))


async def test_the_close_form_starts_from_the_reporters_handling_record_and_closes_with_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)  # the volunteer 欧阳娜娜 wrote what, actions and outcome
    lead = await coordinator_factory(seeded.community, "community-lead")
    path = f"/incidents/{seeded.ids['incident_id']}"
    async with await sign_in(server, "community-lead") as client:
        page = await (await client.get(path)).text()
        assert "已按欧阳娜娜写的处置记录预填" in page
        form = {name: _textarea(page, name) for name in ("what_happened", "actions_taken", "outcome")}
        written = {"what_happened": "老人在卫生间滑倒", "actions_taken": "拨打120，联系女儿", "outcome": "已送南山医院"}
        assert form == written
        csrf = await csrf_of(client, path)
        closed = await client.post(f"{path}/resolve", data={"csrf": csrf, **form, "outcome": "已送南山医院，无骨折"})
        assert closed.status == 200 and "已结案" in await closed.text()
    notes = (await session.exec(select(IncidentNote).where(IncidentNote.author == f"coordinator:{lead.id}"))).all()
    assert [(n.what_happened, n.outcome) for n in notes] == [("老人在卫生间滑倒", "已送南山医院，无骨折")]


async def test_a_refused_close_shows_what_the_coordinator_typed_not_the_reporters_record(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    await coordinator_factory(seeded.community, "community-lead")
    path = f"/incidents/{seeded.ids['incident_id']}"
    async with await sign_in(server, "community-lead") as client:
        csrf = await csrf_of(client, path)
        data = {"csrf": csrf, "what_happened": "改过的经过", "actions_taken": "", "outcome": " "}
        refused = await client.post(f"{path}/resolve", data=data)
        page = await refused.text()
    assert refused.status == 400 and "请填写结果" in page
    assert _textarea(page, "what_happened") == "改过的经过" and "预填" not in page
    incident = await session.get(Incident, seeded.ids["incident_id"], populate_existing=True)
    assert incident is not None and incident.status == IncidentStatus.ACKNOWLEDGED


async def test_a_record_typed_with_full_stops_reads_without_doubled_punctuation(
    server: TestServer, session: AsyncSession, clock: FakeClock, coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    seeded = await seed_programme(session, clock)
    incidents.add_note(
        session,
        clock=clock,
        incident_id=int(seeded.ids["incident_id"]),
        author=f"volunteer:{seeded.ids['volunteer_id']}",
        what_happened="老人在家摔倒，意识清醒。",
        actions_taken="拨打了120，通知了女儿。",
        outcome="已送医，家属陪同。",
    )
    await session.commit()
    await coordinator_factory(seeded.community, "community-lead")
    async with await sign_in(server, "community-lead") as client:
        page = await (await client.get(f"/incidents/{seeded.ids['incident_id']}")).text()
    assert "经过：老人在家摔倒，意识清醒；措施：拨打了120，通知了女儿；结果：已送医，家属陪同" in page
    assert "。；" not in page
