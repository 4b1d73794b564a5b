"""The volunteer app's visit pages over HTTP: the list, confirming, details and photos, problems, unplanned visits,
and every refusal (another volunteer's visit, crafted fields, a closed visit, a stranger) changing nothing."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.storage.enums import ProblemCategory, VisitKind, VisitOutcome, VisitStatus
from carevisit.storage.models import AuditEntry, Incident, Problem, Visit
from carevisit.volunteer_app.visit_texts import TEXTS
from tests.volunteer_app.visit_pages_fixtures import (
    PNG,
    World,
    csrf_of,
    form_of,
    photo_dir,
    server,
    sign_in,
    visible_text,
    world,
)

__all__ = ["photo_dir", "server", "world"]  # fixtures used by name


async def _visit(session: AsyncSession, visit_id: int | None) -> Visit:
    visit = await session.get(Visit, visit_id, populate_existing=True)
    assert visit is not None
    return visit


async def _confirm(client: aiohttp.ClientSession, visit_id: int | None, **fields: str) -> aiohttp.ClientResponse:
    csrf = await csrf_of(client, "/v/sos")  # any page's token: it is the browser's, not the page's
    data = {"csrf": csrf, "mode": "home", **fields}
    return await client.post(f"/v/visits/{visit_id}/confirm", data=data, allow_redirects=False)


async def test_catalogues_have_the_same_words() -> None:
    assert set(TEXTS["zh_CN"]) == set(TEXTS["en"])


async def test_the_list_shows_my_visits_overdue_first_and_later_ones_not_actionable(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    page = await (await client.get("/v/")).text()
    text = visible_text(page)
    assert text.index("李桂兰") < text.index("王秀英")  # the overdue visit first
    assert "已逾期" in text and "3月1日–3月7日" in text and "上门入户" in text
    assert "陈阿婆" not in text  # another volunteer's elder
    assert f'href="/v/visits/{world.visit.id}"' in page and f'href="/v/visits/{world.overdue.id}"' in page
    assert f'href="/v/visits/{world.later.id}"' not in page  # its window opens on the 15th
    assert "3月15日起可以确认" in text
    assert 'href="/v/sos"' in page and "紧急情况" in text
    for internal in (world.elder.external_id, world.me.external_id, "volunteer:", "home"):
        assert internal not in text
    await client.close()


async def test_a_stranger_is_sent_to_the_signed_out_page_and_changes_nothing(
    server: TestServer, session: AsyncSession, world: World
) -> None:
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as stranger:
        for path in ("/v/", f"/v/visits/{world.visit.id}", "/v/sos", "/v/unplanned"):
            response = await stranger.get(path, allow_redirects=False)
            assert response.status in (302, 303) and response.headers["Location"].endswith("/v/signed-out"), path
        data = {"mode": "home", "outcome": "well", "all_fine": "1"}
        response = await stranger.post(f"/v/visits/{world.visit.id}/confirm", data=data, allow_redirects=False)
        assert response.status == 403  # no device, so no token either
    assert (await _visit(session, world.visit.id)).status == VisitStatus.PLANNED


async def test_all_is_well_confirms_at_the_third_tap_and_a_double_submit_confirms_once(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    mode_page = await (await client.get(f"/v/visits/{world.visit.id}")).text()
    assert f'href="/v/visits/{world.visit.id}/how?mode=phone"' in mode_page
    first = await _confirm(client, world.visit.id, outcome="well", all_fine="1")
    assert first.status == 303 and first.headers["Location"] == f"/v/visits/{world.visit.id}/done"
    again = await _confirm(client, world.visit.id, outcome="well", all_fine="1")  # the same form, sent twice
    assert again.status == 303
    visit = await _visit(session, world.visit.id)
    assert visit.status == VisitStatus.DONE and visit.outcome == VisitOutcome.WELL
    assert visit.checklist == {key: "ok" for key in ("health", "mood", "family", "home_safety", "care_needs")}
    confirmations = await session.exec(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "visit.confirm")
    )
    assert confirmations.one() == 1
    assert (await session.exec(select(func.count()).select_from(Problem))).one() == 0
    done = visible_text(await (await client.get(f"/v/visits/{world.visit.id}/done")).text())
    assert "王秀英的探访已确认" in done
    await client.close()


async def test_concerns_ticked_on_the_checklist_file_problems(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    page = await (await client.get(f"/v/visits/{world.visit.id}/checklist?mode=phone")).text()
    assert "家人很少来往或联系" in page and "全部正常" in page
    _action, hidden = form_of(page, f"/v/visits/{world.visit.id}/confirm")
    data = {**hidden, "concern_family": "1", "concern_health": "1", "note": "腿疼", "done": "1"}
    response = await client.post(f"/v/visits/{world.visit.id}/confirm", data=data, allow_redirects=False)
    assert response.status == 303 and "problems=2" in response.headers["Location"]
    visit = await _visit(session, world.visit.id)
    assert visit.outcome == VisitOutcome.PROBLEM and visit.done_mode == "phone"
    categories = {p.category for p in (await session.exec(select(Problem))).all()}
    assert categories == {ProblemCategory.HEALTH, ProblemCategory.CARER_OBLIGATION}
    await client.close()


async def test_all_fine_with_concerns_ticked_is_refused_and_records_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    _action, hidden = form_of(
        await (await client.get(f"/v/visits/{world.visit.id}/checklist?mode=home")).text(),
        f"/v/visits/{world.visit.id}/confirm",
    )
    data = {**hidden, "concern_family": "1", "all_fine": "1"}
    response = await client.post(f"/v/visits/{world.visit.id}/confirm", data=data, allow_redirects=False)
    assert response.status == 400  # a page without its script shows both: the server does not guess
    assert "您勾选了有问题的方面" in visible_text(await response.text())
    assert (await _visit(session, world.visit.id)).status == VisitStatus.PLANNED
    assert (await session.exec(select(func.count()).select_from(Problem))).one() == 0
    done = {**hidden, "concern_family": "1", "done": "1"}  # 完成 with the same tick records what was ticked
    response = await client.post(f"/v/visits/{world.visit.id}/confirm", data=done, allow_redirects=False)
    assert response.status == 303
    visit = await _visit(session, world.visit.id)
    assert visit.outcome == VisitOutcome.PROBLEM and visit.checklist["family"] == "concern"
    await client.close()


async def test_urgent_confirms_and_opens_the_emergency(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    response = await _confirm(client, world.visit.id, outcome="urgent")
    incident = (await session.exec(select(Incident))).one()
    assert response.status == 303 and response.headers["Location"] == f"/v/incidents/{incident.id}"
    assert incident.visit_id == world.visit.id and incident.reporter_volunteer_id == world.me.id
    assert (await _visit(session, world.visit.id)).outcome == VisitOutcome.URGENT
    await client.close()


async def test_another_volunteers_visit_is_refused_and_unchanged(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    theirs = world.others_visit.id
    for path in (f"/v/visits/{theirs}", f"/v/visits/{theirs}/how?mode=home", f"/v/visits/{theirs}/done"):
        response = await client.get(path)
        assert response.status == 404, path
        assert "陈阿婆" not in await response.text()
    csrf = await csrf_of(client, f"/v/visits/{world.visit.id}/how?mode=home")
    data = {"csrf": csrf, "mode": "home", "outcome": "well", "all_fine": "1"}
    response = await client.post(f"/v/visits/{theirs}/confirm", data=data, allow_redirects=False)
    assert response.status == 404
    response = await client.post(f"/v/visits/{theirs}/details", data={"csrf": csrf, "note": "x"})
    assert response.status == 404
    assert (await _visit(session, theirs)).status == VisitStatus.PLANNED
    await client.close()


async def test_crafted_fields_and_a_missing_token_change_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, f"/v/visits/{world.visit.id}/how?mode=home")
    url = f"/v/visits/{world.visit.id}/confirm"
    for data in (
        {"csrf": csrf, "mode": "teleport", "outcome": "well"},
        {"csrf": csrf, "mode": "home", "outcome": "fabulous"},
        {"csrf": csrf, "mode": "remote", "outcome": "well"},  # not a mode a volunteer reports by hand
    ):
        response = await client.post(url, data=data, allow_redirects=False)
        assert response.status == 400, data
        assert "什么也没有改" in await response.text()
    for token in ("", "forged"):
        response = await client.post(url, data={"csrf": token, "mode": "home", "outcome": "well", "all_fine": "1"})
        assert response.status == 403
    response = await client.post(url, data={"mode": "home", "outcome": "well"}, headers={"X-CSRF-Token": "forged"})
    assert response.status == 403
    response = await client.get(f"/v/visits/{world.visit.id}/how?mode=teleport")
    assert response.status == 400
    for path in ("/v/visits/abc", "/v/visits/99999999999999999999", "/v/visits/0"):
        assert (await client.get(path)).status == 404, path
    assert (await _visit(session, world.visit.id)).status == VisitStatus.PLANNED
    await client.close()


async def test_a_post_from_another_site_is_refused(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    csrf = await csrf_of(client, f"/v/visits/{world.visit.id}/how?mode=home")
    response = await client.post(
        f"/v/visits/{world.visit.id}/confirm",
        data={"csrf": csrf, "mode": "home", "outcome": "well", "all_fine": "1"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 403
    assert (await _visit(session, world.visit.id)).status == VisitStatus.PLANNED
    await client.close()


async def test_a_cancelled_visit_and_one_not_yet_open_cannot_be_confirmed(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    visit_id, later_id = world.visit.id, world.later.id
    visit = await _visit(session, visit_id)
    visit.status = VisitStatus.CANCELLED
    session.add(visit)
    await session.commit()
    assert (await client.get(f"/v/visits/{visit_id}")).status == 409
    csrf = await csrf_of(client, "/v/sos")
    data = {"csrf": csrf, "mode": "home", "outcome": "well", "all_fine": "1"}
    response = await client.post(f"/v/visits/{visit_id}/confirm", data=data, allow_redirects=False)
    assert response.status == 409 and "不能再确认" in await response.text()
    assert (await client.get(f"/v/visits/{later_id}")).status == 404
    response = await client.post(f"/v/visits/{later_id}/confirm", data=data, allow_redirects=False)
    assert response.status == 404
    assert (await _visit(session, visit_id)).status == VisitStatus.CANCELLED
    assert (await _visit(session, later_id)).status == VisitStatus.PLANNED
    await client.close()


async def _upload(client: aiohttp.ClientSession, csrf: str, upload_id: str, data: bytes) -> aiohttp.ClientResponse:
    """As the page's script sends a photo: the token in a header, the file streamed."""
    form = aiohttp.FormData()
    form.add_field("upload_id", upload_id)
    form.add_field("photo", data, filename="IMG_0001.jpg", content_type="image/jpeg")
    return await client.post("/v/photos", data=form, headers={"X-CSRF-Token": csrf})


async def test_a_photo_upload_is_idempotent_by_its_upload_id_and_refuses_what_is_not_an_image(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World, photo_dir: Path
) -> None:
    client = await sign_in(server, session, clock, world.me)
    await _confirm(client, world.visit.id, outcome="well", all_fine="1")
    done = await (await client.get(f"/v/visits/{world.visit.id}/done")).text()
    _action, hidden = form_of(done, f"/v/visits/{world.visit.id}/details")
    first = await _upload(client, hidden["csrf"], hidden["upload_id"], PNG)
    retried = await _upload(client, hidden["csrf"], hidden["upload_id"], PNG)  # the answer was lost: sent again
    assert first.status == retried.status == 200
    ref = (await first.json())["ref"]
    assert (await retried.json())["ref"] == ref
    assert [p.name for p in (photo_dir / str(world.me.id)).iterdir()] == [f"{hidden['upload_id']}.png"]
    refused = await _upload(client, hidden["csrf"], "another-upload-id", b"MZ\x90\x00 not a photo")
    assert refused.status == 400 and "只能上传照片" in (await refused.json())["error"]
    assert (await _upload(client, "forged", "third-upload-id", PNG)).status == 403
    response = await client.post(
        f"/v/visits/{world.visit.id}/details",
        data={"csrf": hidden["csrf"], "photo_ref": ref, "note": "老人精神好", "lat": "22.54", "lon": "113.95"},
        allow_redirects=False,
    )
    assert response.status == 303
    visit = await _visit(session, world.visit.id)
    assert (visit.photo_ref, visit.note, visit.latitude, visit.longitude) == (ref, "老人精神好", 22.54, 113.95)
    await client.close()


async def test_a_photo_sent_with_the_form_is_kept_and_another_volunteers_photo_cannot_be_claimed(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    theirs = await sign_in(server, session, clock, world.other)
    csrf = await csrf_of(theirs, "/v/sos")
    their_ref = (await (await _upload(theirs, csrf, "their-upload-id", PNG)).json())["ref"]
    client = await sign_in(server, session, clock, world.me)
    await _confirm(client, world.visit.id, outcome="well", all_fine="1")
    _action, hidden = form_of(
        await (await client.get(f"/v/visits/{world.visit.id}/done")).text(), f"/v/visits/{world.visit.id}/details"
    )
    crafted = {"csrf": hidden["csrf"], "photo_ref": their_ref, "upload_id": hidden["upload_id"]}
    await client.post(f"/v/visits/{world.visit.id}/details", data=crafted)
    assert (await _visit(session, world.visit.id)).photo_ref is None
    form = aiohttp.FormData()
    for name, value in hidden.items():
        form.add_field(name, value)
    form.add_field("note", "")
    form.add_field("photo", PNG, filename="a.png", content_type="image/png")  # no script ran: the file itself
    response = await client.post(f"/v/visits/{world.visit.id}/details", data=form, allow_redirects=False)
    assert response.status == 303
    visit = await _visit(session, world.visit.id)
    assert visit.photo_ref == f"app:{world.me.id}/{hidden['upload_id']}.png"
    await client.close()
    await theirs.close()


async def test_a_problem_with_a_photo_is_reported_and_an_urgent_one_opens_the_emergency(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    page = await (await client.get(f"/v/problems/new?visit={world.visit.id}")).text()
    assert "王秀英" in page
    _action, hidden = form_of(page, "/v/problems")
    form = aiohttp.FormData()
    for name, value in hidden.items():
        form.add_field(name, value)
    form.add_field("category", "home_safety")
    form.add_field("description", "煤气灶漏气")
    form.add_field("photo", PNG, filename="gas.png", content_type="image/png")
    response = await client.post("/v/problems", data=form, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/v/?reported=1"
    home = visible_text(await (await client.get("/v/?reported=1")).text())
    assert "问题已转给社区工作人员" in home and "{" not in home
    problem = (await session.exec(select(Problem))).one()
    assert (problem.category, problem.description, problem.urgent) == ("home_safety", "煤气灶漏气", False)
    assert problem.visit_id == world.visit.id
    assert problem.attachments == [{"kind": "photo", "ref": f"app:{world.me.id}/{hidden['upload_id']}.png"}]
    _action, hidden = form_of(
        await (await client.get(f"/v/problems/new?elder={world.second.id}")).text(), "/v/problems"
    )
    data = {**hidden, "category": "health", "description": "摔倒了", "urgent": "1"}
    response = await client.post("/v/problems", data=data, allow_redirects=False)
    incident = (await session.exec(select(Incident))).one()
    assert response.headers["Location"] == f"/v/incidents/{incident.id}" and incident.elder_id == world.second.id
    await client.close()


async def test_a_problem_for_an_elder_not_served_or_a_crafted_visit_is_refused(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    assert (await client.get(f"/v/problems/new?elder={world.stranger_elder.id}")).status == 404
    assert (await client.get(f"/v/problems/new?visit={world.others_visit.id}")).status == 404
    csrf = await csrf_of(client, "/v/problems/new")
    base = {"csrf": csrf, "category": "health", "description": "x"}
    assert (await client.post("/v/problems", data={**base, "elder_id": str(world.stranger_elder.id)})).status == 404
    crafted = {**base, "elder_id": str(world.second.id), "visit_id": str(world.visit.id)}  # the visit is 王秀英's
    assert (await client.post("/v/problems", data=crafted)).status == 400
    empty = {**base, "elder_id": str(world.elder.id), "description": "  "}
    assert "请写几句" in await (await client.post("/v/problems", data=empty)).text()
    assert (await session.exec(select(func.count()).select_from(Problem))).one() == 0
    await client.close()


async def test_an_unplanned_visit_is_started_once_and_confirmed_like_any_other(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    picker = visible_text(await (await client.get("/v/unplanned")).text())
    assert "王秀英" in picker and "李桂兰" in picker and "陈阿婆" not in picker
    page = await (await client.get(f"/v/unplanned/{world.second.id}")).text()
    _action, hidden = form_of(page, "/v/unplanned")
    data = {**hidden, "mode": "phone"}
    first = await client.post("/v/unplanned", data=data, allow_redirects=False)
    second = await client.post("/v/unplanned", data=data, allow_redirects=False)  # a double tap
    assert first.status == second.status == 303 and first.headers["Location"] == second.headers["Location"]
    unplanned = (await session.exec(select(Visit).where(col(Visit.kind) == VisitKind.UNPLANNED))).one()
    assert first.headers["Location"] == f"/v/visits/{unplanned.id}/how?mode=phone"
    response = await _confirm(client, unplanned.id, outcome="well", all_fine="1")
    assert response.status == 303
    assert (await _visit(session, unplanned.id)).status == VisitStatus.DONE
    assert (await client.get(f"/v/unplanned/{world.stranger_elder.id}")).status == 404
    stranger = {**hidden, "elder_id": str(world.stranger_elder.id), "mode": "home"}
    assert (await client.post("/v/unplanned", data=stranger)).status == 404
    await client.close()


async def test_english_when_the_volunteer_chose_it(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    world.me.language = "en"
    session.add(world.me)
    await session.commit()
    client = await sign_in(server, session, clock, world.me)
    text = visible_text(await (await client.get("/v/")).text())
    assert "My visits" in text and "Overdue" in text and "Emergency" in text
    await client.close()


async def test_every_step_back_is_said_in_words_not_a_bare_arrow(
    server: TestServer, session: AsyncSession, clock: FakeClock, world: World
) -> None:
    client = await sign_in(server, session, clock, world.me)
    visit = world.visit.id
    for path in (
        f"/v/visits/{visit}/how?mode=home",
        f"/v/visits/{visit}/checklist?mode=home",
        f"/v/unplanned/{world.elder.id}",
    ):
        page = await (await client.get(path)).text()
        assert ">←</a>" not in page and "返回" in visible_text(page), path
    await client.close()
