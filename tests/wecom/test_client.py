"""WeComClient against the fake qyapi: the token's cache and refresh, one gettoken under concurrency, cards, OAuth,
and WeCom's failures translated into the three kinds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from carevisit.care.clock import FakeClock
from carevisit.wecom.client import Button, ButtonCard, WeComClient
from carevisit.wecom.errors import WeComNotProcessed, WeComPermanentError, WeComTemporaryError
from tests.wecom.conftest import MEMBERS
from tests.wecom.fake_wecom import AGENT_ID, CORP_ID, FREQUENCY, SECRET, FakeWeCom

URL = "https://carevisit.example.cn/wecom/app/incidents/17"


def make_client(fake: FakeWeCom, clock: FakeClock, **options: object) -> WeComClient:
    return WeComClient(CORP_ID, AGENT_ID, SECRET, fake.api_base, clock, **options)  # type: ignore[arg-type]


@pytest.fixture
async def client(wecom: FakeWeCom, clock: FakeClock) -> AsyncIterator[WeComClient]:
    async with make_client(wecom, clock, timeout=1.0) as instance:
        yield instance


def incident_card(task_id: str = "incident-17-1") -> ButtonCard:
    return ButtonCard(
        task_id=task_id,
        title="紧急情况",
        description="王秀英老人跌倒",
        url=URL,
        buttons=(Button("确认", "ack:17"), Button("打开", "open:17", style=2)),
    )


# --- the token ---


async def test_the_token_is_cached_until_expires_in_minus_the_margin(
    client: WeComClient, wecom: FakeWeCom, clock: FakeClock
) -> None:
    await client.send_text(["zhangwei"], "一")
    clock.advance(timedelta(seconds=7200 - 300 - 1))
    await client.send_text(["zhangwei"], "二")
    assert len(wecom.gettoken_calls) == 1
    clock.advance(timedelta(seconds=1))  # inside the margin: fetched again before WeCom would refuse it
    await client.send_text(["zhangwei"], "三")
    assert len(wecom.gettoken_calls) == 2
    assert wecom.refusals == [] and len(wecom.delivered_to("zhangwei")) == 3


@pytest.mark.parametrize("end", ["revoke", "expire"])
async def test_a_refused_token_is_fetched_again_once_and_the_request_retried(
    client: WeComClient, wecom: FakeWeCom, end: str
) -> None:
    await client.send_text(["zhangwei"], "一")
    getattr(wecom, end)()  # WeCom ends the token early: 40014 revoked, 42001 expired
    result = await client.send_text(["zhangwei"], "二")
    assert wecom.refusals == [40014 if end == "revoke" else 42001]
    assert len(wecom.gettoken_calls) == 2
    assert wecom.delivered_to("zhangwei")[-1].msgid == result.msgid


async def test_a_token_refused_and_no_new_one_is_not_processed(wecom: FakeWeCom, clock: FakeClock) -> None:
    wecom.gettoken_per_minute = 1
    async with make_client(wecom, clock) as client:
        await client.send_text(["zhangwei"], "一")
        wecom.revoke()
        with pytest.raises(WeComNotProcessed) as caught:
            await client.send_text(["zhangwei"], "二")
    assert caught.value.errcode == FREQUENCY
    assert len(wecom.delivered_to("zhangwei")) == 1


async def test_concurrent_sends_fetch_one_token(client: WeComClient, wecom: FakeWeCom) -> None:
    results = await asyncio.gather(*(client.send_text([userid], "晚上好") for userid in MEMBERS * 4))
    assert len(wecom.gettoken_calls) == 1
    assert len({r.msgid for r in results}) == 12
    wecom.revoke()
    await asyncio.gather(*(client.send_text([userid], "又一条") for userid in MEMBERS * 4))
    assert len(wecom.gettoken_calls) == 2  # twelve 40014s, one new token
    assert len([d for d in wecom.deliveries if d.delivered]) == 24


async def test_a_wrong_secret_is_permanent(wecom: FakeWeCom, clock: FakeClock) -> None:
    async with WeComClient(CORP_ID, AGENT_ID, "wrong", wecom.api_base, clock) as client:
        with pytest.raises(WeComPermanentError) as caught:
            await client.send_text(["zhangwei"], "一")
    assert caught.value.errcode == 40001


# --- sending ---


async def test_unknown_userids_are_reported_and_the_rest_sent(client: WeComClient, wecom: FakeWeCom) -> None:
    result = await client.send_text(["zhangwei", "ghost"], "明天探访")
    assert result.invalid_users == ("ghost",) and result.response_code is None
    assert [d.userid for d in wecom.deliveries] == ["zhangwei"]
    with pytest.raises(WeComPermanentError) as caught:
        await client.send_text(["ghost"], "明天探访")
    assert caught.value.errcode == 81013


async def test_the_silent_drop_above_30_a_minute_is_visible_only_at_the_fake(
    client: WeComClient, wecom: FakeWeCom
) -> None:
    results = [await client.send_text(["lina"], f"第{i}条") for i in range(31)]
    assert all(r.msgid for r in results)  # the client cannot tell: pacing is the caller's job
    assert len(wecom.delivered_to("lina")) == 30
    assert [d.msgid for d in wecom.dropped_to("lina")] == [results[30].msgid]


async def test_with_duplicate_check_a_resend_after_a_timeout_is_dropped(wecom: FakeWeCom, clock: FakeClock) -> None:
    async with make_client(wecom, clock, timeout=0.3, duplicate_check_interval=600) as client:
        await client.send_text(["lina"], "warm-up")  # the token first, so the hang falls on the send
        wecom.hang_next(1.0, path="/cgi-bin/message/send")
        with pytest.raises(WeComTemporaryError):
            await client.send_text(["lina"], "紧急情况")
        again = await client.send_text(["lina"], "紧急情况")
    assert [d.msgid for d in wecom.delivered_to("lina")][-1] == again.msgid
    assert [(d.msgid, d.reason) for d in wecom.dropped_to("lina")] == [(again.msgid, "duplicate")]


# --- cards ---


async def test_a_card_carries_its_jump_url_and_updates_once(client: WeComClient, wecom: FakeWeCom) -> None:
    result = await client.send_card(["zhangwei", "lina"], incident_card())
    assert result.response_code
    (delivered, _) = wecom.deliveries
    assert delivered.message["card_action"]["url"] == URL
    assert delivered.message["jump_list"] == [{"type": 1, "title": "打开", "url": URL}]
    await client.update_card(result.response_code, "已确认")
    assert wecom.card(result.response_code).replaced_with == "已确认"
    with pytest.raises(WeComPermanentError):
        await client.update_card(result.response_code, "已确认")


async def test_a_task_id_is_used_once(client: WeComClient) -> None:
    await client.send_card(["zhangwei"], incident_card("incident-17-1"))
    with pytest.raises(WeComPermanentError):
        await client.send_card(["zhangwei"], incident_card("incident-17-1"))


@pytest.mark.parametrize(
    ("task_id", "buttons"),
    [
        ("has space", (Button("a", "a"),)),
        ("x" * 129, (Button("a", "a"),)),
        ("ok", ()),
        ("ok", tuple(Button(str(i), str(i)) for i in range(7))),
        ("ok", (Button("a", "same"), Button("b", "same"))),
        ("ok", (Button("a", "键" * 342),)),
    ],
)
def test_the_card_builder_refuses_what_wecom_refuses(task_id: str, buttons: tuple[Button, ...]) -> None:
    with pytest.raises(ValueError):
        ButtonCard(task_id=task_id, title="t", url=URL, buttons=buttons)


def test_every_card_has_a_jump_url() -> None:
    with pytest.raises(ValueError):
        ButtonCard(task_id="ok", title="t", url="", buttons=(Button("a", "a"),))


# --- OAuth ---


async def test_an_oauth_code_gives_the_userid_once(client: WeComClient, wecom: FakeWeCom) -> None:
    code = wecom.oauth_code("wangfang")
    assert await client.user_by_oauth_code(code) == "wangfang"
    with pytest.raises(WeComPermanentError):
        await client.user_by_oauth_code(code)
    assert await client.user_by_oauth_code(wecom.oauth_code("outsider")) is None


# --- failures ---


async def test_45009_is_not_processed_and_system_busy_is_temporary(client: WeComClient, wecom: FakeWeCom) -> None:
    await client.send_text(["zhangwei"], "warm-up")
    wecom.error_next(45009, path="/cgi-bin/message/send")
    with pytest.raises(WeComNotProcessed):
        await client.send_text(["zhangwei"], "一")
    wecom.error_next(-1, process=True, path="/cgi-bin/message/send")
    with pytest.raises(WeComTemporaryError):
        await client.send_text(["zhangwei"], "二")
    assert [d.message["content"] for d in wecom.delivered_to("zhangwei")] == ["warm-up", "二"]


@pytest.mark.parametrize("status", [500, 502, 0])
async def test_5xx_and_a_dropped_connection_are_temporary(client: WeComClient, wecom: FakeWeCom, status: int) -> None:
    await client.send_text(["zhangwei"], "warm-up")
    wecom.fail_next(status, process=True, path="/cgi-bin/message/send")
    with pytest.raises(WeComTemporaryError):
        await client.send_text(["zhangwei"], "一")
    assert len(wecom.delivered_to("zhangwei")) == 2  # perhaps acted on, as "temporary" says


async def test_a_late_answer_is_temporary(client: WeComClient, wecom: FakeWeCom) -> None:
    await client.send_text(["zhangwei"], "warm-up")
    wecom.hang_next(2.0, path="/cgi-bin/message/send")  # past the client's 1 s
    with pytest.raises(WeComTemporaryError):
        await client.send_text(["zhangwei"], "一")


async def test_gettoken_failing_means_the_message_was_not_processed(client: WeComClient, wecom: FakeWeCom) -> None:
    wecom.fail_next(503, path="/cgi-bin/gettoken")
    with pytest.raises(WeComNotProcessed):
        await client.send_text(["zhangwei"], "一")
    assert wecom.deliveries == []
    await client.send_text(["zhangwei"], "一")
    assert len(wecom.delivered_to("zhangwei")) == 1


async def test_nothing_logged_names_a_member_or_the_content(
    client: WeComClient, wecom: FakeWeCom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.send_text(["zhangwei", "ghost"], "王秀英老人跌倒")
    wecom.revoke()
    await client.send_text(["lina"], "王秀英老人跌倒")
    with pytest.raises(WeComPermanentError):
        await client.send_text(["ghost"], "王秀英老人跌倒")
    # Ours, not the fake server's access log (that is WeCom's side of the wire).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "errcode 81013" in ours and "token fetched" in ours  # it did log: the token fetches and the refusal
    for secret in ("zhangwei", "ghost", "lina", "王秀英", SECRET):
        assert secret not in ours


async def test_a_member_is_found_by_mobile_and_an_unknown_mobile_is_none(client: WeComClient, wecom: FakeWeCom) -> None:
    wecom.add_member("zhaomin", mobile="13711112222")
    assert await client.userid_by_mobile("13711112222") == "zhaomin"
    assert await client.userid_by_mobile("13799998888") is None
    assert wecom.refusals == [46004]


async def test_a_card_carries_its_longer_text_as_the_sub_title(client: WeComClient, wecom: FakeWeCom) -> None:
    card = ButtonCard(
        task_id="incident-17-2",
        title="紧急情况",
        description="王秀英老人跌倒",
        sub_title="志愿者：张伟\n地址：幸福小区",
        url=URL,
        buttons=(Button("确认", "ack:17"),),
    )
    await client.send_card(["zhangwei"], card)
    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.message["sub_title_text"] == "志愿者：张伟\n地址：幸福小区"
