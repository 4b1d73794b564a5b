"""The WeCom part of `carevisit run`: off (and saying what is missing) without its settings; with them, the callback
on the web app and one WeCom sender among all processes, the holder of the `wecom` lock, handed over on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bootstrap import Runtime
from carevisit.care import outbound
from carevisit.care.clock import FakeClock
from carevisit.care.ports import WECOM, Recipient
from carevisit.parts.wecom import WeComPart, report
from carevisit.service import make_parts
from carevisit.wecom.callback import CALLBACK_PATH
from tests.bot.test_bot_part import runtime
from tests.wecom.conftest import PUBLIC_URL, wecom_settings
from tests.wecom.fake_wecom import FakeWeCom


async def eventually(condition: Callable[[], bool]) -> None:
    """Until the background sender has done what the fake can see; the 20 s bound only the wait."""
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110  (the state is in another task's HTTP calls)
            await asyncio.sleep(0.02)


def configured(engine: AsyncEngine, clock: FakeClock, fake: FakeWeCom, db_url: str) -> Runtime:
    settings = wecom_settings(db_url, fake)
    values = {
        name: getattr(settings, name)
        for name in type(settings).model_fields
        if name.startswith("wecom_") or name in ("public_url", "secret_key")
    }
    return runtime(engine, clock, **values)


async def test_without_its_settings_wecom_is_off_and_mounts_nothing(engine: AsyncEngine, clock: FakeClock) -> None:
    rt = runtime(engine, clock)  # half of them is refused by the settings themselves (tests/wecom/test_config.py)
    part = WeComPart(rt)
    app = web.Application()
    part.add_routes(app)
    await part.start()
    assert not part.enabled and not part.leading
    assert not [r for r in app.router.routes() if r.resource and r.resource.canonical == CALLBACK_PATH]
    name, on, why = report(rt.settings)
    assert (name, on) == ("wecom", False) and "CAREVISIT_WECOM_AES_KEY" in why
    await part.stop()


async def test_the_service_has_a_wecom_part(engine: AsyncEngine, clock: FakeClock) -> None:
    assert "wecom" in [part.name for part in make_parts(runtime(engine, clock))]


async def test_one_process_sends_for_wecom_and_the_other_takes_over_when_it_stops(
    engine: AsyncEngine,
    clock: FakeClock,
    wecom: FakeWeCom,
    db_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    first = WeComPart(configured(engine, clock, wecom, db_url), leader_check_every=0.05)
    second = WeComPart(configured(engine, clock, wecom, db_url), leader_check_every=0.05)
    await first.start()
    await second.start()
    try:
        assert first.leading and not second.leading
        assert report(first.rt.settings) == ("wecom", True, f"callback {PUBLIC_URL}/wecom/callback")
        async with session_factory() as session:
            await outbound.enqueue(session, clock=clock, key="d:1", to=Recipient(WECOM, "zhangwei"), text="今日提醒")
            await session.commit()
        await eventually(lambda: len(wecom.delivered_to("zhangwei")) == 1)

        await first.stop()
        await eventually(lambda: second.leading)
        async with session_factory() as session:
            await outbound.enqueue(session, clock=clock, key="d:2", to=Recipient(WECOM, "zhangwei"), text="明日提醒")
            await session.commit()
        clock.advance(timedelta(seconds=3))
        await eventually(lambda: len(wecom.delivered_to("zhangwei")) == 2)
        assert [d.message["content"] for d in wecom.delivered_to("zhangwei")] == ["今日提醒", "明日提醒"]
    finally:
        await first.stop()
        await second.stop()
