"""The volunteers page over HTTP: who a coordinator sees, inviting to the bot, deactivating and reactivating."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_accounts import LinkProblem, LinkRefused, redeem_invitation
from carevisit.care.clock import FakeClock
from carevisit.dashboard.app import add_dashboard
from carevisit.dashboard.auth import COOKIE, SessionSigner
from carevisit.dashboard.volunteer_views import BOT_USERNAME
from carevisit.storage.enums import CoordinatorRole, VisitStatus, VolunteerKind
from carevisit.storage.models import Area, AuditEntry, Visit, Volunteer
from tests.dashboard.conftest import csrf_of, sign_in
from tests.factories import make_elder, make_organisation, make_visit, make_volunteer

TELEGRAM_USER = 777000111


async def _audit(session: AsyncSession, action: str) -> list[AuditEntry]:
    rows = await session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id)))
    return list(rows.all())


def _no_personal_data(entries: list[AuditEntry], *people: Volunteer) -> bool:
    text = repr([(e.actor, e.action, e.entity, e.entity_id, e.details) for e in entries])
    return not any(person.name in text or (person.phone or "?") in text for person in people)


async def test_a_coordinator_sees_the_volunteers_of_their_subtree_only(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    organisation = await make_organisation(session, name="阳光社工服务中心")
    mine = await make_volunteer(
        session,
        clock,
        communities=[areas["community"], areas["other_community"]],
        name="李阿姨",
        kind=VolunteerKind.SOCIAL_WORKER,
        organisation_id=organisation.id,
        capacity=12,
        telegram_user_id=TELEGRAM_USER,
    )
    await make_volunteer(session, clock, communities=[areas["other_community"]], name="王大伯")
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder, volunteer_id=mine.id, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=elder, volunteer_id=mine.id, slot=2)
    await make_visit(session, clock, elder=elder, volunteer_id=mine.id, slot=3, month="2026-02")  # last month
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    await coordinator_factory(areas["district"], "district-lead")

    async with await sign_in(server, "street-lead") as street:
        page = await (await street.get("/volunteers")).text()
    row = re.search(rf'<tr id="volunteer-{mine.id}".*?</tr>', page, re.S)
    assert row, page
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    for shown in ("李阿姨", "社工", "阳光社工服务中心", "科技园社区", "12", "2/1", "是", "在岗"):
        assert shown in cells
    assert "华侨城社区" not in cells  # a community of another street is not theirs to see
    assert "王大伯" not in page

    async with await sign_in(server, "district-lead") as district:
        page = await (await district.get("/volunteers")).text()
    assert "李阿姨" in page and "王大伯" in page


async def test_acting_on_another_streets_volunteer_is_not_found_and_changes_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_volunteer(session, clock, communities=[areas["community"]])
    theirs = await make_volunteer(session, clock, communities=[areas["other_community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        for action in ("deactivate", "invite", "reactivate"):
            response = await street.post(f"/volunteers/{theirs.id}/{action}", data={"csrf": csrf})
            assert response.status == 404, action
        assert (await street.post("/volunteers/999999/deactivate", data={"csrf": csrf})).status == 404
    await session.refresh(theirs)
    assert theirs.active
    assert await _audit(session, "chat.invite") == [] and await _audit(session, "volunteer.deactivate") == []


async def test_a_post_without_the_form_token_changes_nothing(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as street:
        missing = await street.post(f"/volunteers/{volunteer.id}/deactivate", data={})
        forged = await street.post(f"/volunteers/{volunteer.id}/invite", data={"csrf": "forged"})
        assert (missing.status, forged.status) == (403, 403)
    await session.refresh(volunteer)
    assert volunteer.active
    assert await _audit(session, "chat.invite") == []


async def test_a_viewer_reads_the_list_but_may_not_act(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    await session.commit()
    await coordinator_factory(areas["street"], "street-viewer", role=CoordinatorRole.VIEWER)

    async with await sign_in(server, "street-viewer") as viewer:
        page = await (await viewer.get("/volunteers")).text()
        assert "李阿姨" in page and "停用" not in page and "邀请绑定机器人" not in page
        # Even a well-formed post (a valid CSRF token, as the server would issue it) is refused.
        cookie = next(c.value for c in viewer.cookie_jar if c.key == COOKIE)
        csrf = SessionSigner(b"test-secret").csrf_token(cookie)
        for action in ("deactivate", "invite"):
            response = await viewer.post(f"/volunteers/{volunteer.id}/{action}", data={"csrf": csrf})
            assert response.status == 403
            assert "只读账号不能操作" in await response.text()
    await session.refresh(volunteer)
    assert volunteer.active
    assert await _audit(session, "chat.invite") == []


async def test_an_invitation_is_shown_once_and_links_the_volunteers_chat_account_once(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], name="李阿姨")
    await session.commit()
    lead = await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        response = await street.post(f"/volunteers/{volunteer.id}/invite", data={"csrf": csrf})
        page = await response.text()
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        # No bot username is known to this dashboard: the command to paste into the chat with the bot.
        token = re.search(r'id="invitation-value">/start ([A-Za-z0-9_-]+)<', page)
        assert token, page
        assert "2026-03-17 10:00" in page  # valid for a week
        again = await (await street.get("/volunteers")).text()
        assert token.group(1) not in again and 'id="invitation"' not in again

    linked = await redeem_invitation(
        session, clock=clock, token=token.group(1), telegram_user_id=TELEGRAM_USER, chat_id=TELEGRAM_USER, language=None
    )
    await session.commit()
    assert (linked.role, linked.person_id) == ("volunteer", volunteer.id)
    with pytest.raises(LinkRefused) as reused:
        await redeem_invitation(
            session, clock=clock, token=token.group(1), telegram_user_id=1, chat_id=1, language=None
        )
    assert reused.value.reason == LinkProblem.INVALID
    await session.rollback()
    await session.refresh(lead)
    await session.refresh(volunteer)

    invites = await _audit(session, "chat.invite")
    assert [(e.actor, e.entity_id) for e in invites] == [(f"coordinator:{lead.id}", volunteer.id)]
    assert _no_personal_data(invites, volunteer)
    async with await sign_in(server, "street-lead") as street:
        page = await (await street.get("/volunteers")).text()
    assert re.search(rf'<tr id="volunteer-{volunteer.id}".*?class="linked">是<', page, re.S)


@pytest.fixture
async def server_with_bot(
    session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> AsyncIterator[TestServer]:
    """A dashboard whose composition root knows the bot's username (as `carevisit run` does from getMe)."""
    app = web.Application()
    add_dashboard(
        app,
        sessions=session_factory,
        clock=clock,
        zone=ZoneInfo("Asia/Shanghai"),
        language="en",
        secret=b"test-secret",
        secure_cookies=False,
    )

    async def username() -> str:
        return "carevisit_test_bot"

    app[BOT_USERNAME] = username
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_with_the_bots_username_known_the_invitation_is_a_deep_link(
    server_with_bot: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server_with_bot, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        page = await (await street.post(f"/volunteers/{volunteer.id}/invite", data={"csrf": csrf})).text()
    link = re.search(r'id="invitation-value">https://t\.me/carevisit_test_bot\?start=([A-Za-z0-9_-]+)<', page)
    assert link, page
    assert "works once" in page
    linked = await redeem_invitation(
        session, clock=clock, token=link.group(1), telegram_user_id=TELEGRAM_USER, chat_id=1, language="en"
    )
    assert linked.person_id == volunteer.id


async def test_deactivating_hands_their_open_visits_to_another_volunteer_of_the_same_community(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    leaving = await make_volunteer(session, clock, communities=[areas["community"], areas["community2"]])
    staying = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"])
    alone = await make_elder(session, clock, community=areas["community2"])  # nobody else serves 高新社区
    done = await make_visit(session, clock, elder=elder, volunteer_id=leaving.id, status=VisitStatus.DONE)
    open_visit = await make_visit(session, clock, elder=elder, volunteer_id=leaving.id, slot=2)
    stranded = await make_visit(session, clock, elder=alone, volunteer_id=leaving.id)
    next_month = await make_visit(
        session,
        clock,
        elder=elder,
        volunteer_id=leaving.id,
        month="2026-04",
        window_start=date(2026, 4, 1),
        window_end=date(2026, 4, 30),
    )
    # Another street's unassigned visit is not this coordinator's to touch.
    elsewhere = await make_elder(session, clock, community=areas["other_community"])
    await make_volunteer(session, clock, communities=[areas["other_community"]])
    other_streets = await make_visit(session, clock, elder=elsewhere)
    await session.commit()
    lead = await coordinator_factory(areas["street"], "street-lead")

    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        response = await street.post(f"/volunteers/{leaving.id}/deactivate", data={"csrf": csrf})
        page = await response.text()
        assert response.status == 200 and response.url.path == "/volunteers"
        assert f"已停用志愿者 {leaving.name}（{leaving.external_id}）：其探访已改派 1 项，仍未分配 1 项。" in page
        assert re.search(rf'<tr id="volunteer-{leaving.id}".*?class="state">已停用<.*?恢复', page, re.S)

    for row in (leaving, done, open_visit, stranded, other_streets, next_month):
        await session.refresh(row)
    assert next_month.volunteer_id == staying.id  # already planned later months too
    assert not leaving.active
    assert (open_visit.volunteer_id, open_visit.status) == (staying.id, VisitStatus.PLANNED)
    assert (done.volunteer_id, done.status) == (leaving.id, VisitStatus.DONE)  # history stays
    assert stranded.volunteer_id is None
    assert other_streets.volunteer_id is None
    deactivations = await _audit(session, "volunteer.deactivate")
    assert [(e.actor, e.entity_id) for e in deactivations] == [(f"coordinator:{lead.id}", leaving.id)]
    reassignments = await _audit(session, "visits.reassign")
    assert [e.details for e in reassignments] == [
        {"month": "2026-04", "reassigned": 1, "unassigned": 0},
        {"month": "2026-03", "reassigned": 1, "unassigned": 1},
    ]
    assert _no_personal_data(deactivations + reassignments, leaving)

    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        page = await (await street.post(f"/volunteers/{leaving.id}/reactivate", data={"csrf": csrf})).text()
        assert f"已恢复志愿者 {leaving.name}（{leaving.external_id}）" in page
    await session.refresh(leaving)
    assert leaving.active
    assert [e.entity_id for e in await _audit(session, "volunteer.reactivate")] == [leaving.id]
    planned = (await session.exec(select(Visit).where(col(Visit.volunteer_id) == leaving.id))).all()
    assert [v.id for v in planned] == [done.id]  # reactivation gives nothing back by itself


async def test_an_inactive_volunteer_cannot_be_invited(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], active=False)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        csrf = await csrf_of(street, "/volunteers")
        response = await street.post(f"/volunteers/{volunteer.id}/invite", data={"csrf": csrf})
        assert response.status == 409 and "请先恢复" in await response.text()
    assert await _audit(session, "chat.invite") == []


@pytest.mark.parametrize("server", ["en"], indirect=True)
async def test_the_volunteers_page_speaks_english_when_configured(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    await make_volunteer(session, clock, communities=[areas["community"]], kind=VolunteerKind.COMMUNITY_STAFF)
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        page = await (await street.get("/volunteers")).text()
    for shown in ("Volunteers", "community staff", "Linked to the bot", "Invite to the bot", "Deactivate"):
        assert shown in page


async def test_a_crafted_link_puts_no_words_of_its_own_on_the_page(
    server: TestServer, session: AsyncSession, clock: FakeClock, areas: dict[str, Area], coordinator_factory
) -> None:  # type: ignore[no-untyped-def]
    mine = await make_volunteer(session, clock, communities=[areas["community"]])
    theirs = await make_volunteer(session, clock, communities=[areas["other_community"]])
    await session.commit()
    await coordinator_factory(areas["street"], "street-lead")
    async with await sign_in(server, "street-lead") as street:
        spoofed = await (await street.get("/volunteers?message=请拨打4008001234&done=请拨打")).text()
        elsewhere = await (await street.get(f"/volunteers?done=deactivated&volunteer={theirs.id}&n=1&u=0")).text()
        real = await (await street.get(f"/volunteers?done=deactivated&volunteer={mine.id}&n=2&u=1")).text()
    assert "4008001234" not in spoofed and "请拨打" not in spoofed
    assert theirs.external_id not in elsewhere and 'id="notice"' not in elsewhere
    assert f"已停用志愿者 {mine.name}（{mine.external_id}）：其探访已改派 2 项，仍未分配 1 项。" in real
