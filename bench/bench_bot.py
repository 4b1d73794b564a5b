"""Webhook throughput of confirm-visit updates on one process with SQLite, beside aiogram's bare dispatch rate.

    python bench/bench_bot.py [--rows N] [--concurrency C]

Full path per update: HTTP POST to /telegram/webhook (secret checked) → stored in `telegram_updates` and committed →
200 → the processor feeds it to the dispatcher → middlewares (session, who, locale) → the confirm handler
(authorisation, conditional update, audit entry, commit) → answerCallbackQuery + editMessageText. Outgoing Bot API
calls go to a session that answers in memory (no network), the same for both measurements.
Baseline: the same updates through `dp.feed_update` with one no-op callback handler.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Message, Update
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import insert

from carevisit.bot.callbacks import ConfirmCb
from carevisit.bot.setup import build_dispatcher
from carevisit.bot.updates import SECRET_HEADER, WEBHOOK_PATH, UpdateProcessor, webhook_handler
from carevisit.care.clock import FakeClock
from carevisit.storage import schema
from carevisit.storage.db import make_engine, make_session_factory
from carevisit.storage.enums import AreaLevel, VisitMode
from carevisit.storage.models import Area, Elder, Visit, Volunteer, VolunteerCommunity

SECRET = "bench-secret"
ZONE = ZoneInfo("Asia/Shanghai")


class InMemorySession(BaseSession):
    """Answers Bot API calls without a network: edits and sends return a message, everything else True."""

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:  # noqa: ASYNC109 (aiogram's signature)
        name = type(method).__name__
        if name in ("EditMessageText", "SendMessage"):
            chat_id = getattr(method, "chat_id", None) or 1
            return Message.model_validate(
                {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": "ok"},
                context={"bot": bot},
            )
        return True

    async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:
        pass


async def seed(sessions, clock: FakeClock, rows: int, volunteers: int) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """`rows` planned visits spread over `volunteers` linked volunteers; returns (telegram user id, visit id)."""
    now = clock.now()
    async with sessions() as session:
        area = Area(code="c1", name="社区", level=AreaLevel.COMMUNITY, path="/c1/")
        session.add(area)
        await session.flush()
        await (await session.connection()).execute(
            insert(Volunteer),
            [
                {
                    "external_id": f"V{v}",
                    "name": f"志愿者{v}",
                    "telegram_user_id": 10_000 + v,
                    "telegram_chat_id": 10_000 + v,
                    "capacity": 20,
                    "kind": "volunteer",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for v in range(volunteers)
            ],
        )
        await (await session.connection()).execute(
            insert(Elder),
            [
                {
                    "external_id": f"E{n}",
                    "name": f"老人{n}",
                    "address": "地址",
                    "community_id": area.id,
                    "classes": 1,
                    "risk": "low",
                    "consent": True,
                    "status": "active",
                    "enrolled_on": datetime(2026, 1, 1, tzinfo=UTC).date(),
                    "gender": "unknown",
                    "notes": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(rows)
            ],
        )
        await session.commit()
        volunteer_ids = [v.id for v in (await session.exec(Volunteer.__table__.select())).all()]  # type: ignore[attr-defined]
        elder_ids = [e.id for e in (await session.exec(Elder.__table__.select())).all()]  # type: ignore[attr-defined]
        await (await session.connection()).execute(
            insert(VolunteerCommunity), [{"volunteer_id": v, "area_id": area.id} for v in volunteer_ids]
        )
        await (await session.connection()).execute(
            insert(Visit),
            [
                {
                    "elder_id": e,
                    "month": "2026-03",
                    "slot": 1,
                    "kind": "planned",
                    "mode": "home",
                    "window_start": datetime(2026, 3, 1, tzinfo=UTC).date(),
                    "window_end": datetime(2026, 3, 31, tzinfo=UTC).date(),
                    "status": "planned",
                    "volunteer_id": volunteer_ids[n % volunteers],
                    "created_at": now,
                    "updated_at": now,
                }
                for n, e in enumerate(elder_ids)
            ],
        )
        await session.commit()
        visits = (await session.exec(Visit.__table__.select())).all()  # type: ignore[attr-defined]
        by_volunteer = {v: 10_000 + n for n, v in enumerate(volunteer_ids)}
        return [(by_volunteer[v.volunteer_id], v.id) for v in visits]


def confirm_update(update_id: int, user_id: int, visit_id: int) -> dict[str, Any]:
    data = ConfirmCb(visit_id=visit_id, mode=VisitMode.HOME.value, outcome="well", answers="ooooo").pack()
    user = {"id": user_id, "is_bot": False, "first_name": "V", "language_code": "zh-hans"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "message": {"message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"}, "text": "…"},
        },
    }


async def bare_dispatch(updates: list[dict[str, Any]]) -> float:
    bot = Bot("1:bench-token-abcdefghijklmnopqrstuvwxyz", session=InMemorySession())
    dp = Dispatcher()

    async def noop(_query: CallbackQuery) -> None:
        return None

    dp.callback_query.register(noop)
    parsed = [Update.model_validate(u, context={"bot": bot}) for u in updates]
    for update in parsed[:50]:  # warm-up: aiogram builds some things lazily on first use
        await dp.feed_update(bot, update)
    start = time.perf_counter()
    for update in parsed:
        await dp.feed_update(bot, update)
    return len(parsed) / (time.perf_counter() - start)


class TimedProcessor(UpdateProcessor):
    def __init__(self, *args: Any, done: dict[int, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done = done

    def handled(self, update_id: int) -> None:
        self.done[update_id] = time.perf_counter()

    async def _failed(self, update_id: int, error: str) -> None:
        raise RuntimeError(error)


async def webhook_path(  # type: ignore[no-untyped-def]
    updates: list[dict[str, Any]], sessions, clock: FakeClock, concurrency: int, pace: float | None = None
):
    """Post every update (as fast as `concurrency` clients go, or one each `pace` seconds) and wait until all are
    handled; returns updates/s and each update's latency from POST to handled, in ms."""
    bot = Bot("1:bench-token-abcdefghijklmnopqrstuvwxyz", session=InMemorySession())
    dp = build_dispatcher(sessions=sessions, clock=clock, zone=ZONE)
    wake, stop = asyncio.Event(), asyncio.Event()
    app = web.Application()
    app.router.add_post(WEBHOOK_PATH, webhook_handler(sessions, clock=clock, secret=SECRET, wake=wake))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    done: dict[int, float] = {}
    posted: dict[int, float] = {}
    processor = TimedProcessor(sessions, dp, bot, clock, wake, done=done)
    processing = asyncio.create_task(processor.run(stop, idle=0.01))
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for update in updates:
        queue.put_nowait(update)
    url = server.make_url(WEBHOOK_PATH)

    async def post(http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        posted[update["update_id"]] = time.perf_counter()
        async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            await post(http, queue.get_nowait())

    start = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        if pace is None:
            await asyncio.gather(*(client(http) for _ in range(concurrency)))
        else:
            sending = []
            for update in updates:
                sending.append(asyncio.create_task(post(http, update)))
                await asyncio.sleep(pace)
            await asyncio.gather(*sending)
    while len(done) < len(updates):  # noqa: ASYNC110 (polls another task's progress)
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await processing
    await server.close()
    latencies = sorted((done[u] - posted[u]) * 1000 for u in posted)
    return len(updates) / elapsed, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500, help="confirm-visit updates (one visit each)")
    parser.add_argument("--volunteers", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent webhook POSTs")
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on PostgreSQL (postgresql+asyncpg://…; a scratch database is made)"
    )
    args = parser.parse_args()
    await run("SQLite", None, args)
    if args.postgres:
        await run("PostgreSQL", args.postgres, args)


async def scratch_postgres(url: str) -> tuple[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"carevisit_bench_{int(time.time())}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


async def run(label: str, postgres: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        if postgres:
            url, drop = await scratch_postgres(postgres)
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        await schema.upgrade(engine)
        sessions = make_session_factory(engine)
        clock = FakeClock(datetime(2026, 3, 10, 10, 0, tzinfo=ZONE))
        pairs = await seed(sessions, clock, 2 * args.rows, args.volunteers)
        every = [confirm_update(n + 1, user_id, visit_id) for n, (user_id, visit_id) in enumerate(pairs)]
        updates, later = every[: args.rows], every[args.rows :]
        baseline = await bare_dispatch(updates)
        rate, latencies = await webhook_path(updates, sessions, clock, args.concurrency)
        # Latency means something below saturation: the other visits at half the rate just measured.
        paced_rate = rate / 2
        _, paced = await webhook_path(later, sessions, clock, args.concurrency, pace=1 / paced_rate)
        await engine.dispose()
        if drop is not None:
            await drop()
    print(f"confirm-visit updates: {len(updates)}, {label}, one process")
    print(f"baseline  bare aiogram dispatch (no-op handler):      {baseline:8.0f} updates/s")
    print(
        f"measured  webhook → store → process → confirm:       {rate:8.0f} updates/s"
        f"   (saturated, {args.concurrency} clients: p50 {percentile(latencies, 50):.0f} ms)"
    )
    print(
        f"latency   at {paced_rate:.0f} updates/s (half the measured rate):"
        f"   p50 {percentile(paced, 50):.1f} ms   p99 {percentile(paced, 99):.1f} ms"
    )
    print(f"ratio     measured / baseline: {rate / baseline:.3f}")


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return statistics.median(ordered) if p == 50 else ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


if __name__ == "__main__":
    asyncio.run(main())
