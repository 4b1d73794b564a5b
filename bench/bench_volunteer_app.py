"""The volunteer app under load on SQLite: its visit list and its confirm, beside a bare aiohttp handler doing the
same database write, in the same run on the same database.

    python bench/bench_volunteer_app.py [--volunteers N] [--visits-per-volunteer K] [--rate 50] [--seconds 10]

Each volunteer signs in as a person does (a link made for them, opened, its button posted) and keeps a browser's
cookies. Measured over HTTP on 127.0.0.1, each request timed from sent to body read:
- the list `/v/` (each volunteer's K open visits), saturated by `--concurrency` clients;
- the final confirm `POST /v/visits/<id>/confirm` (CSRF token, "一切正常": WELL with every checklist item fine):
  guard (device cookie checked in the database), fieldwork.visits.confirm (authorisation, conditional update,
  audit entry), commit, 303; saturated, then paced at `--rate` confirms a second for `--seconds` (p99 there is
  the figure: aim < 100 ms at 50/s);
- the baseline: `POST /bare/<id>`, an aiohttp handler that runs the same conditional UPDATE of the visit and the
  same audit INSERT in one transaction, with no guard, no form, no template, at the same rates.
The start-up heap is frozen (gc.freeze) as `carevisit run` freezes it. It prints requests/s and p50/p99 of each
and the ratios. Runs in well under two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import insert, text

from carevisit.care.clock import FakeClock
from carevisit.care.volunteer_sign_in import issue_link_token
from carevisit.dashboard.security import secure
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.fieldwork.context import FieldContext
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import AreaLevel
from carevisit.storage.models import Area, Elder, Visit, Volunteer, VolunteerCommunity
from carevisit.volunteer_app.app import add_volunteer_app
from carevisit.volunteer_app.deps import AppDeps
from carevisit.volunteer_app.page_common import PHOTOS
from carevisit.volunteer_app.photos import PhotoStore

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=ZONE)

# What confirm_visit writes, as one statement each: the conditional update and the audit entry.
BARE_UPDATE = text(
    "UPDATE visits SET status='done', done_at=:now, done_mode='home', done_by_volunteer_id=volunteer_id, "
    "outcome='well', checklist=:checklist, updated_at=:now WHERE id=:id AND status='planned'"
)
BARE_AUDIT = text(
    "INSERT INTO audit_log (at, actor, action, entity, entity_id, details) "
    "VALUES (:now, 'volunteer:bench', 'visit.confirm', 'visit', :id, :details)"
)


async def seed(sessions, volunteers: int, per_volunteer: int) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    """`volunteers` in one community, each with `per_volunteer` open visits (one elder each, slot 1..3 cycling);
    returns each volunteer's visit ids."""
    now = NOW.astimezone(UTC)
    async with sessions() as session:
        area = Area(code="c1", name="社区", level=AreaLevel.COMMUNITY, path="/c1/")
        session.add(area)
        await session.flush()
        connection = await session.connection()
        await connection.execute(
            insert(Volunteer),
            [
                {"external_id": f"V{v}", "name": f"志愿者{v}", "capacity": 40, "kind": "volunteer", "active": True,
                 "created_at": now, "updated_at": now}
                for v in range(volunteers)
            ],
        )  # fmt: skip
        elders = volunteers * per_volunteer
        await connection.execute(
            insert(Elder),
            [
                {"external_id": f"E{n}", "name": f"老人{n}", "address": "地址", "community_id": area.id, "classes": 1,
                 "risk": "low", "consent": True, "status": "active", "enrolled_on": date(2026, 1, 1),
                 "gender": "unknown", "notes": "", "created_at": now, "updated_at": now}
                for n in range(elders)
            ],
        )  # fmt: skip
        volunteer_ids = list((await session.exec(text("SELECT id FROM volunteers ORDER BY id"))).scalars())  # type: ignore[call-overload]
        elder_ids = list((await session.exec(text("SELECT id FROM elders ORDER BY id"))).scalars())  # type: ignore[call-overload]
        await connection.execute(
            insert(VolunteerCommunity), [{"volunteer_id": v, "area_id": area.id} for v in volunteer_ids]
        )
        await connection.execute(
            insert(Visit),
            [
                {"elder_id": e, "month": "2026-03", "slot": 1, "kind": "planned", "mode": "home",
                 "window_start": date(2026, 3, 1), "window_end": date(2026, 3, 31), "status": "planned",
                 "volunteer_id": volunteer_ids[n % volunteers], "created_at": now, "updated_at": now}
                for n, e in enumerate(elder_ids)
            ],
        )  # fmt: skip
        await session.commit()
        rows = (await session.exec(text("SELECT id, volunteer_id FROM visits ORDER BY id"))).all()  # type: ignore[call-overload]
    by_volunteer: dict[int, list[int]] = {v: [] for v in volunteer_ids}
    for visit_id, volunteer_id in rows:
        by_volunteer[volunteer_id].append(visit_id)
    return by_volunteer


def bare_handler(sessions):  # type: ignore[no-untyped-def]
    async def bare(request: web.Request) -> web.Response:
        visit_id = int(request.match_info["visit_id"])
        now = NOW.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        async with sessions() as session:
            checklist = '{"health": "ok", "mood": "ok", "family": "ok", "home_safety": "ok", "care_needs": "ok"}'
            await session.exec(BARE_UPDATE, params={"id": visit_id, "now": now, "checklist": checklist})  # type: ignore[call-overload]
            await session.exec(BARE_AUDIT, params={"id": visit_id, "now": now, "details": "{}"})  # type: ignore[call-overload]
            await session.commit()
        raise web.HTTPSeeOther(f"/done/{visit_id}")

    return bare


class Volunteer_:
    """One signed-in phone: its cookies and its form token."""

    def __init__(self, http: aiohttp.ClientSession, csrf: str) -> None:
        self.http, self.csrf = http, csrf


async def sign_in(server: TestServer, sessions, clock: FakeClock, volunteer_id: int) -> Volunteer_:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        token = await issue_link_token(session, clock=clock, volunteer_id=volunteer_id, created_by="bench")
        await session.commit()
    http = aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await (await http.get(f"/v/in/{token}")).text()
    form = re.search(r"<form\b([^>]*)>(.*?)</form>", page, re.S)
    assert form, "the sign-in page has no form"
    action = re.search(r'action="([^"]+)"', form.group(1))
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    target = unescape(action.group(1)) if action else f"/v/in/{token}"  # no action: the form posts to its page
    response = await http.post(target, data=hidden, allow_redirects=False)
    assert response.status in (302, 303), response.status
    page = await (await http.get("/v/sos")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    return Volunteer_(http, csrf.group(1))


Request = Callable[[], Awaitable[None]]


async def timed(request: Request, latencies: list[float]) -> None:
    start = time.perf_counter()
    await request()
    latencies.append((time.perf_counter() - start) * 1000)


async def saturated(requests: list[Request], concurrency: int) -> tuple[float, list[float]]:
    queue = list(reversed(requests))
    latencies: list[float] = []

    async def client() -> None:
        while queue:
            await timed(queue.pop(), latencies)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(requests) / (time.perf_counter() - start), latencies


async def paced(requests: list[Request], rate: float) -> tuple[float, list[float]]:
    """Each request started at its time on a fixed schedule (an open loop: a slow answer delays no later one)."""
    latencies: list[float] = []
    start = time.perf_counter()
    tasks = []
    for n, request in enumerate(requests):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(request, latencies)))
    await asyncio.gather(*tasks)
    return len(requests) / (time.perf_counter() - start), latencies


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return statistics.median(ordered) if p == 50 else ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def line(label: str, rate: float, latencies: list[float]) -> str:
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return f"{label:<50} {rate:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await schema.upgrade(engine)
        sessions = make_session_factory(engine)
        clock = FakeClock(NOW)
        visits = await seed(sessions, args.volunteers, args.visits_per_volunteer)
        app = web.Application(client_max_size=2 * 1024 * 1024)
        secure(app, language="zh_CN")
        field = FieldContext(clock=clock, zone=ZONE, policy=DEFAULT_POLICY, language="zh_CN")
        add_volunteer_app(
            app,
            AppDeps(sessions=sessions, clock=clock, zone=ZONE, language="zh_CN", field=field, secure_cookies=False,
                    public_url=None),
        )  # fmt: skip
        app[PHOTOS] = PhotoStore(Path(tmp) / "photos")
        app.router.add_post("/bare/{visit_id}", bare_handler(sessions))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        phones = {v: await sign_in(server, sessions, clock, v) for v in visits}
        gc.collect()
        gc.freeze()  # as `carevisit run` does once started: the start-up heap out of the collector's walks

        def list_request(phone: Volunteer_) -> Request:
            async def get() -> None:
                async with phone.http.get("/v/") as response:
                    assert response.status == 200, response.status
                    await response.read()

            return get

        def confirm_request(phone: Volunteer_, visit_id: int) -> Request:
            data = {"csrf": phone.csrf, "mode": "home", "outcome": "well", "all_fine": "1"}

            async def post() -> None:
                async with phone.http.post(f"/v/visits/{visit_id}/confirm", data=data, allow_redirects=False) as r:
                    assert r.status == 303 and "/done" in r.headers["Location"], (r.status, await r.text())
                    await r.read()

            return post

        def bare_request(phone: Volunteer_, visit_id: int) -> Request:
            async def post() -> None:
                async with phone.http.post(f"/bare/{visit_id}", allow_redirects=False) as response:
                    assert response.status == 303
                    await response.read()

            return post

        # Every visit is confirmed once: a quarter saturated, a quarter paced, the same for the baseline.
        pairs = [(phones[v], visit_id) for v, ids in visits.items() for visit_id in ids]
        pairs = [pairs[i] for i in sorted(range(len(pairs)), key=lambda i: (i % args.visits_per_volunteer, i))]
        paced_count = int(args.rate * args.seconds)
        burst = (len(pairs) - 2 * paced_count) // 2
        assert burst > 0, "seed more visits: --volunteers × --visits-per-volunteer"
        app_burst, bare_burst = pairs[:burst], pairs[burst : 2 * burst]
        app_paced, bare_paced = pairs[2 * burst : 2 * burst + paced_count], pairs[2 * burst + paced_count :]

        for phone in list(phones.values())[:5]:  # warm-ups
            await list_request(phone)()
        list_rate, list_latencies = await saturated(
            [list_request(phone) for _ in range(args.list_rounds) for phone in phones.values()], args.concurrency
        )
        bare_rate, bare_latencies = await saturated([bare_request(p, v) for p, v in bare_burst], args.concurrency)
        app_rate, app_latencies = await saturated([confirm_request(p, v) for p, v in app_burst], args.concurrency)
        _, bare_paced_latencies = await paced([bare_request(p, v) for p, v in bare_paced], args.rate)
        _, app_paced_latencies = await paced([confirm_request(p, v) for p, v in app_paced], args.rate)
        async with sessions() as session:
            left = (await session.exec(text("SELECT count(*) FROM visits WHERE status='planned'"))).one()[0]  # type: ignore[call-overload]
        for phone in phones.values():
            await phone.http.close()
        await server.close()
        await engine.dispose()
    print(
        f"SQLite, one process: {args.volunteers} volunteers × {args.visits_per_volunteer} visits, "
        f"{args.concurrency} clients when saturated"
    )
    print(line("list     GET /v/ (saturated)", list_rate, list_latencies))
    print(line("baseline bare aiohttp UPDATE+audit (saturated)", bare_rate, bare_latencies))
    print(line("confirm  POST /v/visits/<id>/confirm (saturated)", app_rate, app_latencies))
    print(line(f"baseline bare at {args.rate:.0f}/s", args.rate, bare_paced_latencies))
    print(line(f"confirm  app at {args.rate:.0f}/s", args.rate, app_paced_latencies))
    print(
        f"ratio    confirm / bare: {app_rate / bare_rate:.2f} of its rate saturated; "
        f"p99 at {args.rate:.0f}/s {percentile(app_paced_latencies, 99) / percentile(bare_paced_latencies, 99):.1f}×"
    )
    print(f"check    visits still planned after every confirm: {left}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volunteers", type=int, default=100)
    parser.add_argument("--visits-per-volunteer", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50.0, help="confirms a second in the paced run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each paced run")
    parser.add_argument("--list-rounds", type=int, default=5, help="times each volunteer opens the list")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
