"""The one-time code of a domestic SMS, typed on `PUBLIC_URL/a`: it acknowledges once as its person and the
volunteer is told; a later code says someone already has; expired and long-resolved codes are refused; guessing is
locked out per address and for the whole service; only digests are stored; repeat pages carry the same code.

Real HTTP throughout: the page is served on a loopback address, and clients connect from addresses of their own
(all of 127.0.0.0/8 is this machine), which is what the per-address limit sees."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import event, func
from sqlmodel import select

from carevisit.dashboard import display
from carevisit.dashboard.texts import translator
from carevisit.escalation import ack_codes, timeline
from carevisit.escalation.code_page import add_code_routes
from carevisit.escalation.timeline import incident_timeline
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import AckCode, AckCodeFailure, AuditEntry, Incident
from tests.escalation.conftest import SECRET, World
from tests.ports import free_port, loopback_host


@dataclasses.dataclass
class CodePage:
    world: World
    url: str

    def client(self, source: str = "127.0.0.1") -> aiohttp.ClientSession:
        """A browser on the client address `source`."""
        return aiohttp.ClientSession(self.url, connector=aiohttp.TCPConnector(local_addr=(source, 0)))

    async def post(self, path: str, data: Any, *, source: str = "127.0.0.1", **kw: Any) -> tuple[int, str]:
        async with self.client(source) as http, http.post(path, data=data, **kw) as response:
            return response.status, await response.text()

    async def code(self, incident_id: int, who: tuple[str, int]) -> str:
        async with self.world.sessions() as session:
            codes = await ack_codes.codes_for(
                session,
                clock=self.world.clock,
                secret=SECRET,
                incident_id=incident_id,
                targets=[who],
                lifetime=ack_codes.LIFETIME,
            )
            await session.commit()
        return codes[who]


@pytest.fixture
async def page(world: World) -> AsyncIterator[CodePage]:
    host = loopback_host()
    port = free_port(host)
    url = f"http://{host}:{port}"
    app = web.Application()
    add_code_routes(app, dataclasses.replace(world.esc, public_url=url))
    server = TestServer(app, host=host, port=port)
    await server.start_server()
    yield CodePage(world, url)
    await server.close()


def contact(world: World, n: int = 0) -> tuple[str, int]:
    contact_id = world.contacts[n].id
    assert contact_id is not None
    return ("contact", contact_id)


def wrong(code: str, n: int) -> str:
    """A well-formed code that is not `code`."""
    guess = f"{n:06d}"
    return guess if guess != code else "999999"


async def failures(world: World) -> int:
    async with world.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(AckCodeFailure))).one())


async def test_a_code_acknowledges_once_and_the_volunteer_is_told(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    code = await page.code(incident_id, contact(world))

    async with page.client() as http, http.get("/a") as response:
        form = await response.text()
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        # Not `no-referrer`: under it the browser would send `Origin: null` with the page's own POST.
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert 'inputmode="numeric"' in form and 'autocomplete="one-time-code"' in form and "<script" not in form
    assert 'lang="zh-CN"' in form and "确认码" in form

    status, shown = await page.post("/a", {"code": code})
    assert status == 200 and "王秀英" in shown and "跌倒" in shown
    assert "李娜" not in shown and "女儿" not in shown  # never who was paged
    assert shown.count("<form") == 1 and 'action="/a/ack"' in shown and f'value="{code}"' in shown
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN  # looking is not acknowledging

    status, done = await page.post("/a/ack", {"code": code})
    assert status == 200 and "已确认，谢谢" in done
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert (incident.acknowledged_by, incident.ack_channel) == (f"contact:{world.contacts[0].id}", "code")
    told = [c.text for c in await world.chats() if c.recipient == "555" and "✅" in c.text]
    assert len(told) == 1 and "李娜" in told[0] and "确认码" in told[0]

    status, again = await page.post("/a/ack", {"code": code})  # pressed twice: the first press stands
    assert status == 200 and "已有人确认" in again
    assert len([c for c in await world.chats() if "✅" in c.text]) == 1
    async with world.sessions() as session:
        timeline = await incident_timeline(session, incident_id=incident_id)
        [row] = (await session.exec(select(AckCode))).all()
    [acknowledged] = [e for e in timeline if e.event == "acknowledged"]
    assert acknowledged.channel == "code" and "李娜" in acknowledged.who
    assert row.used_at == world.clock.now()
    assert not any(code in repr(e) for e in timeline)  # that a code was used, never the code
    async with world.sessions() as session:
        [audit] = (await session.exec(select(AuditEntry).where(AuditEntry.action == "incident.acknowledge"))).all()
    assert audit.details == {"channel": "code", "ack_code_id": str(row.id)}


async def test_a_second_persons_code_after_the_first_shows_already(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    first = await page.code(incident_id, contact(world, 0))
    second = await page.code(incident_id, contact(world, 1))
    assert first != second
    assert (await page.post("/a/ack", {"code": first}))[0] == 200
    world.clock.advance(timedelta(minutes=3))

    status, shown = await page.post("/a", {"code": second})
    assert status == 200 and "已有人确认" in shown and "<form" not in shown
    local = (await world.incident(incident_id)).acknowledged_at
    assert local is not None and local.astimezone(world.esc.zone).strftime("%H:%M") in shown  # when, not who
    status, shown = await page.post("/a/ack", {"code": second})
    assert status == 200 and "已有人确认" in shown
    assert "李娜" not in shown and "王强" not in shown

    incident = await world.incident(incident_id)
    assert incident.acknowledged_by == f"contact:{world.contacts[0].id}"
    async with world.sessions() as session:
        late = (await session.exec(select(AuditEntry).where(AuditEntry.action == "incident.ack_code_late"))).all()
    assert [(e.actor, e.entity_id) for e in late] == [(f"contact:{world.contacts[1].id}", incident_id)]
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    [shown_late] = [e for e in entries if e.what == "incident.ack_code_late"]
    sentence = display.step_sentence(translator("zh_CN"), shown_late)
    assert "也用确认码确认了收到" in sentence and "王强" in sentence  # coordinators see who, signed in


async def test_an_expired_code_is_refused_and_a_later_page_carries_a_new_one(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    old = await page.code(incident_id, contact(world))
    world.clock.advance(ack_codes.LIFETIME + timedelta(seconds=1))
    for path in ("/a", "/a/ack"):
        status, shown = await page.post(path, {"code": old})
        assert status == 200 and "确认码无效或已过期" in shown and "王秀英" not in shown
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN

    new = await page.code(incident_id, contact(world))
    assert (await page.post("/a/ack", {"code": new}))[0] == 200
    assert (await world.incident(incident_id)).ack_channel == "code"


async def test_a_resolved_incidents_code_says_so_then_stops_working(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    await world.resolve(incident_id)
    world.clock.advance(timedelta(hours=20))
    status, shown = await page.post("/a", {"code": code})
    assert status == 200 and "已有人确认" in shown  # shortly after, it says the emergency is handled
    world.clock.advance(timedelta(hours=5))
    status, shown = await page.post("/a", {"code": code})
    assert status == 200 and "确认码无效或已过期" in shown and "王秀英" not in shown  # the code's own day is over
    assert (await world.incident(incident_id)).status == IncidentStatus.RESOLVED


async def test_a_long_resolved_incidents_code_is_refused_even_within_its_day(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    await world.resolve(incident_id)
    world.clock.advance(timedelta(days=8))
    async with world.sessions() as session:  # a page made late (a replayed cycle) for a long-resolved incident
        code = (
            await ack_codes.codes_for(
                session, clock=world.clock, secret=SECRET, incident_id=incident_id, targets=[contact(world)]
            )
        )[contact(world)]
        await session.commit()
    status, shown = await page.post("/a", {"code": code})
    assert status == 200 and "确认码无效或已过期" in shown and "王秀英" not in shown


async def test_guessing_is_locked_out_per_address_until_the_window_passes(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    started = world.clock.now()
    for n in range(ack_codes.ADDRESS_BUDGET - 1):
        status, shown = await page.post("/a", {"code": wrong(code, n)}, source="127.0.0.5")
        assert status == 200 and "确认码无效或已过期" in shown
        world.clock.advance(timedelta(seconds=10))
    status, shown = await page.post("/a", {"code": wrong(code, 99)}, source="127.0.0.5")
    until = (started + ack_codes.WINDOW).astimezone(world.esc.zone).strftime("%H:%M")
    assert status == 429 and f"请于{until}后再试" in shown and "<form" not in shown

    status, shown = await page.post("/a/ack", {"code": code}, source="127.0.0.5")  # even the right code
    assert status == 429 and (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await failures(world) == ack_codes.ADDRESS_BUDGET  # a locked address adds nothing while locked

    status, shown = await page.post("/a", {"code": code}, source="127.0.0.6")  # another address is not locked
    assert status == 200 and "王秀英" in shown

    world.clock.set(started + ack_codes.WINDOW + timedelta(seconds=1))  # the first failure has left the window
    status, shown = await page.post("/a/ack", {"code": code}, source="127.0.0.5")
    assert status == 200 and "已确认" in shown


async def test_guessing_spread_over_many_addresses_locks_the_service(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    per_address = ack_codes.ADDRESS_BUDGET - 1
    n = 0
    for address in range(10, 10 + ack_codes.SERVICE_BUDGET // per_address + 1):
        for _ in range(per_address):
            if n == ack_codes.SERVICE_BUDGET:
                break
            status, _shown = await page.post("/a", {"code": wrong(code, n)}, source=f"127.0.1.{address}")
            n += 1
            assert status == (429 if n == ack_codes.SERVICE_BUDGET else 200), n
    status, shown = await page.post("/a/ack", {"code": code}, source="127.0.2.1")  # a fresh address, the right code
    assert status == 429 and "当前尝试人数过多" in shown and "按1" in shown
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN

    world.clock.advance(ack_codes.WINDOW + timedelta(seconds=1))
    status, shown = await page.post("/a/ack", {"code": code}, source="127.0.2.1")
    assert status == 200 and "已确认" in shown
    async with world.sessions() as session:  # the window's failures were forgotten by the next one counted
        await ack_codes.fail(session, clock=world.clock, client="x")
        await session.commit()
    assert await failures(world) == 1


async def test_a_valid_code_serves_a_few_uses_only(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    for _ in range(ack_codes.MAX_USES):
        assert "王秀英" in (await page.post("/a", {"code": code}))[1]
    status, shown = await page.post("/a/ack", {"code": code})
    assert status == 200 and "确认码无效或已过期" in shown
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await failures(world) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"code=abcdef", "application/x-www-form-urlencoded"),
        (b"code=" + b"1" * 5000, "application/x-www-form-urlencoded"),
        (b"code=12345", "application/x-www-form-urlencoded"),
        (b"code=\xff\xfe\x00\x81" * 10, "application/x-www-form-urlencoded"),
        (b"code=%ff%fe%c3", "application/x-www-form-urlencoded"),
        (b"\x80\x81\x82", "application/x-www-form-urlencoded"),
        (b"", "application/x-www-form-urlencoded"),
        (b'{"code": "123456"}', "application/json"),
        (b"code=1&code=2&" * 200, "application/x-www-form-urlencoded"),
    ],
)
async def test_wrong_input_of_any_shape_gets_the_same_answer_and_changes_nothing(
    page: CodePage, world: World, body: bytes, content_type: str
) -> None:
    incident_id = await world.open()
    await page.code(incident_id, contact(world))
    for path in ("/a", "/a/ack"):
        status, shown = await page.post(path, body, headers={"Content-Type": content_type})
        assert status == 200 and "确认码无效或已过期" in shown and 'inputmode="numeric"' in shown
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await failures(world) == 0  # cannot be anyone's code: not a guess


async def test_full_width_digits_and_spaces_are_read_as_the_code(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    typed = " ".join(chr(ord("０") + int(d)) for d in code)
    assert "王秀英" in (await page.post("/a", {"code": typed}))[1]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/a"}],
)
async def test_a_post_from_another_origin_is_refused(page: CodePage, world: World, headers: dict[str, str]) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    status, _ = await page.post("/a/ack", {"code": code}, headers=headers)
    assert status == 403 and (await world.incident(incident_id)).status == IncidentStatus.OPEN
    status, _ = await page.post("/a/ack", {"code": code}, headers={"Origin": page.url, "Referer": f"{page.url}/a"})
    assert status == 200 and (await world.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED


async def test_codes_are_stored_only_as_digests(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    code = await page.code(incident_id, contact(world))
    await page.post("/a", {"code": wrong(code, 1)}, source="127.0.0.7")
    async with world.sessions() as session:
        [row] = (await session.exec(select(AckCode))).all()
        [failure] = (await session.exec(select(AckCodeFailure))).all()
    stored = " ".join(str(v) for v in row.model_dump().values())
    assert code not in stored
    assert row.digest == ack_codes.digest_of(SECRET, code)
    assert "127.0.0.7" not in failure.client
    # What a database reader could try: the digest under another key (or none) is not the stored one.
    assert ack_codes.digest_of(b"", code) != row.digest


async def test_repeat_pages_carry_the_same_code_and_codes_for_is_idempotent(page: CodePage, world: World) -> None:
    incident_id = await world.open()
    targets = [contact(world, 0), contact(world, 1), ("coordinator", world.coordinator_id)]
    async with world.sessions() as session:
        first = await ack_codes.codes_for(
            session, clock=world.clock, secret=SECRET, incident_id=incident_id, targets=targets
        )
        await session.commit()
    world.clock.advance(timedelta(minutes=10))
    async with world.sessions() as session:
        again = await ack_codes.codes_for(
            session, clock=world.clock, secret=SECRET, incident_id=incident_id, targets=targets[1:] + targets[:1]
        )
        await session.commit()
        rows = (await session.exec(select(AckCode))).all()
    assert again == first and len(set(first.values())) == 3
    assert all(re.fullmatch(r"\d{6}", c) for c in first.values())
    assert len(rows) == 3


async def test_codes_for_a_flood_take_one_select_and_one_insert(world: World) -> None:
    async with world.sessions() as session:
        session.add_all(
            Incident(elder_id=world.elder_id, kind="fall", opened_at=world.clock.now(), policy={}) for _ in range(200)
        )
        await session.commit()
        ids = list((await session.exec(select(Incident.id))).all())
    wanted = [(i, kind, who) for i in ids if i is not None for kind, who in (contact(world, 0), contact(world, 1))]
    engine = world.sessions.kw["bind"]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    async with world.sessions() as session:
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            codes = await ack_codes.codes_for_many(session, clock=world.clock, secret=SECRET, wanted=wanted)
            await session.commit()
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(codes) == 400 and len(set(codes.values())) == 400  # no two live codes alike
    # The existing rows, the digests already taken, the rows. 400 six-digit codes share one about one run in
    # twelve (the birthday bound): those few are drawn again, at one more digest SELECT.
    written = [s for s in statements if s in {"SELECT", "INSERT", "UPDATE"}]
    assert written[-1] == "INSERT" and written.count("INSERT") == 1 and "UPDATE" not in written
    assert 2 <= written.count("SELECT") <= 4
    async with world.sessions() as session:
        again = await ack_codes.codes_for_many(session, clock=world.clock, secret=SECRET, wanted=wanted)
        count = (await session.exec(select(func.count()).select_from(AckCode))).one()
    assert again == codes and count == 400


async def test_a_code_that_would_match_a_live_one_is_drawn_again(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = await world.open(), await world.open(kind="medical")
    real = ack_codes.code_of
    colliding = {"left": 3}

    def code_of(secret: bytes, **key: Any) -> str:
        # The first draws of the second incident's code come out equal to the first incident's live one.
        if key["incident_id"] == second and colliding["left"] > 0:
            colliding["left"] -= 1
            return taken
        return real(secret, **key)

    async with world.sessions() as session:
        taken = (
            await ack_codes.codes_for(
                session, clock=world.clock, secret=SECRET, incident_id=first, targets=[contact(world)]
            )
        )[contact(world)]
        await session.commit()
    monkeypatch.setattr(ack_codes, "code_of", code_of)
    async with world.sessions() as session:
        drawn = await ack_codes.codes_for(
            session, clock=world.clock, secret=SECRET, incident_id=second, targets=[contact(world)]
        )
        await session.commit()
    assert colliding["left"] == 0 and drawn[contact(world)] != taken
    async with world.sessions() as session:
        row = await ack_codes.lookup(
            session, clock=world.clock, secret=SECRET, code=taken, after_resolved=timedelta(days=7)
        )
    assert row is not None and row.incident_id == first


async def test_two_new_codes_drawn_alike_in_one_batch_are_told_apart(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = await world.open()
    real = ack_codes.code_of
    alike = {"left": 2}

    def code_of(secret: bytes, **key: Any) -> str:
        if alike["left"] > 0:  # the batch's first two draws come out equal
            alike["left"] -= 1
            return "424242"
        return real(secret, **key)

    monkeypatch.setattr(ack_codes, "code_of", code_of)
    async with world.sessions() as session:
        codes = await ack_codes.codes_for(
            session,
            clock=world.clock,
            secret=SECRET,
            incident_id=incident_id,
            targets=[contact(world, 0), contact(world, 1)],
        )
        await session.commit()
    assert alike["left"] == 0 and len(set(codes.values())) == 2
