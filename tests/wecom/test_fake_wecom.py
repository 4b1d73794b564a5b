"""The fake qyapi's rules, shown with plain aiohttp requests: it must refuse, limit and drop as WeCom does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from carevisit.care.clock import FakeClock
from tests.wecom.fake_wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    FREQUENCY,
    INVALID_AGENTID,
    INVALID_CORPID,
    INVALID_CREDENTIAL,
    INVALID_MSGTYPE,
    INVALID_OAUTH_CODE,
    INVALID_PARAMETER,
    INVALID_TOKEN,
    NO_VALID_RECIPIENT,
    RESPONSE_CODE_INVALID,
    SECRET,
    TASK_ID_USED,
    TOKEN,
    TOKEN_EXPIRED,
    TOKEN_MISSING,
    USER_NOT_FOUND,
    FakeWeCom,
)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, fake: FakeWeCom, path: str, **query: str) -> dict[str, Any]:
    async with http.get(fake.api_base + path, params=query) as response:
        assert response.status == 200
        return dict(await response.json())


async def post(http: aiohttp.ClientSession, fake: FakeWeCom, path: str, token: str, body: Any) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(fake.api_base + path, params={"access_token": token}, data=data) as response:
        assert response.status == 200
        return dict(await response.json())


async def token(http: aiohttp.ClientSession, fake: FakeWeCom) -> str:
    answer = await get(http, fake, "/cgi-bin/gettoken", corpid=CORP_ID, corpsecret=SECRET)
    assert answer["errcode"] == 0 and answer["expires_in"] == 7200
    return str(answer["access_token"])


def text(touser: str, content: str = "明天上午探访王秀英", **extra: Any) -> dict[str, Any]:
    return {"touser": touser, "msgtype": "text", "agentid": AGENT_ID, "text": {"content": content}, **extra}


def card(touser: str, task_id: str = "incident-1", **overrides: Any) -> dict[str, Any]:
    template = {
        "card_type": "button_interaction",
        "main_title": {"title": "紧急情况", "desc": "王秀英老人跌倒"},
        "card_action": {"type": 1, "url": "https://carevisit.example.cn/i/1"},
        "task_id": task_id,
        "button_list": [{"text": "确认", "style": 1, "key": "ack:1"}, {"text": "打开", "style": 2, "key": "open:1"}],
        **overrides,
    }
    return {"touser": touser, "msgtype": "template_card", "agentid": AGENT_ID, "template_card": template}


async def send(http: aiohttp.ClientSession, fake: FakeWeCom, access: str, body: Any) -> dict[str, Any]:
    return await post(http, fake, "/cgi-bin/message/send", access, body)


# --- gettoken and the token ---


async def test_gettoken_checks_the_corp_and_the_secret(wecom: FakeWeCom, http: aiohttp.ClientSession) -> None:
    assert (await get(http, wecom, "/cgi-bin/gettoken", corpid="ww-other", corpsecret=SECRET))[
        "errcode"
    ] == INVALID_CORPID
    assert (await get(http, wecom, "/cgi-bin/gettoken", corpid=CORP_ID, corpsecret="wrong"))[
        "errcode"
    ] == INVALID_CREDENTIAL
    assert len(await token(http, wecom)) >= 100


async def test_gettoken_is_frequency_limited(wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock) -> None:
    for _ in range(wecom.gettoken_per_minute):
        await token(http, wecom)
    answer = await get(http, wecom, "/cgi-bin/gettoken", corpid=CORP_ID, corpsecret=SECRET)
    assert answer["errcode"] == FREQUENCY and "access_token" not in answer
    clock.advance(timedelta(minutes=1))
    await token(http, wecom)


async def test_a_token_is_missing_invalid_expired_or_revoked(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    assert (await send(http, wecom, "", text("zhangwei")))["errcode"] == TOKEN_MISSING
    assert (await send(http, wecom, "made-up", text("zhangwei")))["errcode"] == INVALID_TOKEN
    access = await token(http, wecom)
    clock.advance(timedelta(seconds=7199))
    assert (await send(http, wecom, access, text("zhangwei")))["errcode"] == 0
    clock.advance(timedelta(seconds=1))
    assert (await send(http, wecom, access, text("zhangwei")))["errcode"] == TOKEN_EXPIRED
    early = await token(http, wecom)
    wecom.revoke(early)
    assert (await send(http, wecom, early, text("zhangwei")))["errcode"] == INVALID_TOKEN
    assert len(wecom.delivered_to("zhangwei")) == 1


# --- message/send ---


async def test_send_checks_agentid_and_msgtype(wecom: FakeWeCom, http: aiohttp.ClientSession) -> None:
    access = await token(http, wecom)
    assert (await send(http, wecom, access, text("zhangwei", agentid=1000003)))["errcode"] == INVALID_AGENTID
    assert (await send(http, wecom, access, {**text("zhangwei"), "msgtype": "sms"}))["errcode"] == INVALID_MSGTYPE
    assert (await send(http, wecom, access, text("zhangwei", content="")))["errcode"] == 44004
    assert (await send(http, wecom, access, text("zhangwei", content="长" * 683)))["errcode"] == 45002
    assert (await send(http, wecom, access, b"not json"))["errcode"] == 47001
    assert wecom.deliveries == []


async def test_unknown_userids_come_back_in_invaliduser_and_none_valid_is_81013(
    wecom: FakeWeCom, http: aiohttp.ClientSession
) -> None:
    access = await token(http, wecom)
    answer = await send(http, wecom, access, text("zhangwei|ghost|lina"))
    assert answer["errcode"] == 0 and answer["invaliduser"] == "ghost" and answer["msgid"]
    assert [d.userid for d in wecom.deliveries] == ["zhangwei", "lina"]
    assert (await send(http, wecom, access, text("ghost|nobody")))["errcode"] == NO_VALID_RECIPIENT
    assert len(wecom.deliveries) == 2


async def test_above_30_a_minute_a_member_is_silently_dropped(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    access = await token(http, wecom)
    answers = [await send(http, wecom, access, text("zhangwei", f"第{i}条")) for i in range(31)]
    assert all(a["errcode"] == 0 and a["msgid"] for a in answers)  # the 31st looks exactly like the rest
    assert len(wecom.delivered_to("zhangwei")) == 30
    assert [(d.message["content"], d.reason) for d in wecom.dropped_to("zhangwei")] == [("第30条", "minute")]
    assert (await send(http, wecom, access, text("lina")))["errcode"] == 0  # per member: lina is not limited
    assert len(wecom.delivered_to("lina")) == 1
    clock.advance(timedelta(minutes=1))
    await send(http, wecom, access, text("zhangwei", "一分钟后"))
    assert wecom.delivered_to("zhangwei")[-1].message["content"] == "一分钟后"


async def test_above_1000_an_hour_a_member_is_silently_dropped(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    access = await token(http, wecom)
    for minute in range(34):  # 30 a minute, within the minute limit, 1,020 in 34 minutes
        for i in range(30):
            assert (await send(http, wecom, access, text("zhangwei", f"{minute}-{i}")))["errcode"] == 0
        clock.advance(timedelta(minutes=1))
    assert len(wecom.delivered_to("zhangwei")) == 1000
    assert {d.reason for d in wecom.dropped_to("zhangwei")} == {"hour"}
    assert len(wecom.dropped_to("zhangwei")) == 20


async def test_duplicate_check_drops_a_byte_identical_request(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    access = await token(http, wecom)
    body = json.dumps(text("zhangwei", enable_duplicate_check=1, duplicate_check_interval=600)).encode()
    first = await send(http, wecom, access, body)
    again = await send(http, wecom, access, body)
    assert first["msgid"] == again["msgid"] and again["errcode"] == 0
    assert [d.reason for d in wecom.dropped_to("zhangwei")] == ["duplicate"]
    reordered = json.dumps(text("zhangwei", enable_duplicate_check=1, duplicate_check_interval=600), indent=1)
    assert (await send(http, wecom, access, reordered.encode()))["msgid"] != first["msgid"]  # not byte-identical
    clock.advance(timedelta(seconds=600))
    assert (await send(http, wecom, access, body))["msgid"] != first["msgid"]
    assert len(wecom.delivered_to("zhangwei")) == 3


# --- cards ---


async def test_a_card_answers_a_response_code_and_its_task_id_is_unique(
    wecom: FakeWeCom, http: aiohttp.ClientSession
) -> None:
    access = await token(http, wecom)
    answer = await send(http, wecom, access, card("zhangwei|lina"))
    assert answer["errcode"] == 0 and answer["response_code"]
    assert wecom.card(answer["response_code"]).userids == ["zhangwei", "lina"]
    assert (await send(http, wecom, access, card("zhangwei")))["errcode"] == TASK_ID_USED


@pytest.mark.parametrize(
    "overrides",
    [
        {"task_id": "has space"},
        {"task_id": "x" * 129},
        {"task_id": ""},
        {"button_list": []},
        {"button_list": [{"text": f"b{i}", "key": f"k{i}"} for i in range(7)]},
        {"button_list": [{"text": "a", "key": "same"}, {"text": "b", "key": "same"}]},
        {"button_list": [{"text": "a", "key": "键" * 342}]},  # 1,026 bytes
        {"main_title": {}},
        {"card_type": "vote_interaction"},
    ],
)
async def test_a_malformed_card_is_refused(
    wecom: FakeWeCom, http: aiohttp.ClientSession, overrides: dict[str, Any]
) -> None:
    access = await token(http, wecom)
    assert (await send(http, wecom, access, card("zhangwei", **overrides)))["errcode"] == INVALID_PARAMETER
    assert wecom.deliveries == [] and wecom.task_ids == set()


async def test_limits_of_a_card_are_inclusive(wecom: FakeWeCom, http: aiohttp.ClientSession) -> None:
    access = await token(http, wecom)
    six = [{"text": f"b{i}", "key": f"{i}" + "k" * 1023} for i in range(6)]
    answer = await send(http, wecom, access, card("zhangwei", task_id="A-z_0@" + "9" * 122, button_list=six))
    assert answer["errcode"] == 0


async def test_an_app_without_a_callback_url_cannot_send_cards(clock: FakeClock, http: aiohttp.ClientSession) -> None:
    fake = FakeWeCom(clock, callback_configured=False)
    fake.add_member("zhangwei")
    await fake.start()
    try:
        access = await token(http, fake)
        assert (await send(http, fake, access, card("zhangwei")))["errcode"] == INVALID_PARAMETER
    finally:
        await fake.close()


async def test_update_template_card_takes_each_response_code_once_for_72_hours(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    access = await token(http, wecom)
    first = (await send(http, wecom, access, card("zhangwei", task_id="t1")))["response_code"]
    late = (await send(http, wecom, access, card("zhangwei", task_id="t2")))["response_code"]

    def update(code: str) -> dict[str, Any]:
        return {"agentid": AGENT_ID, "response_code": code, "button": {"replace_name": "已确认"}}

    path = "/cgi-bin/message/update_template_card"
    assert (await post(http, wecom, path, access, update(first)))["errcode"] == 0
    assert wecom.card(first).replaced_with == "已确认"
    assert (await post(http, wecom, path, access, update(first)))["errcode"] == RESPONSE_CODE_INVALID
    assert (await post(http, wecom, path, access, update("never-issued")))["errcode"] == RESPONSE_CODE_INVALID
    clock.advance(timedelta(hours=72))
    access = await token(http, wecom)
    assert (await post(http, wecom, path, access, update(late)))["errcode"] == RESPONSE_CODE_INVALID
    assert not wecom.card(late).used


# --- the directory and OAuth ---


async def test_user_get(wecom: FakeWeCom, http: aiohttp.ClientSession) -> None:
    access = await token(http, wecom)
    answer = await get(http, wecom, "/cgi-bin/user/get", access_token=access, userid="lina")
    assert answer["errcode"] == 0 and answer["userid"] == "lina"
    missing = await get(http, wecom, "/cgi-bin/user/get", access_token=access, userid="ghost")
    assert missing["errcode"] == USER_NOT_FOUND
    assert (await get(http, wecom, "/cgi-bin/user/get", userid="lina"))["errcode"] == TOKEN_MISSING


async def test_an_oauth_code_works_once_for_5_minutes(
    wecom: FakeWeCom, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    access = await token(http, wecom)
    code = wecom.oauth_code("lina")
    answer = await get(http, wecom, "/cgi-bin/auth/getuserinfo", access_token=access, code=code)
    assert answer["errcode"] == 0 and answer["userid"] == "lina"
    again = await get(http, wecom, "/cgi-bin/auth/getuserinfo", access_token=access, code=code)
    assert again["errcode"] == INVALID_OAUTH_CODE
    stale = wecom.oauth_code("lina")
    clock.advance(timedelta(minutes=5))
    late = await get(http, wecom, "/cgi-bin/auth/getuserinfo", access_token=await token(http, wecom), code=stale)
    assert late["errcode"] == INVALID_OAUTH_CODE
    outsider = await get(
        http, wecom, "/cgi-bin/auth/getuserinfo", access_token=await token(http, wecom), code=wecom.oauth_code("x")
    )
    assert outsider["errcode"] == 0 and "userid" not in outsider and outsider["openid"]


# --- failures on demand ---


async def test_5xx_dropped_connection_and_a_late_answer(wecom: FakeWeCom, http: aiohttp.ClientSession) -> None:
    access = await token(http, wecom)
    wecom.fail_next(502)
    async with http.post(
        wecom.api_base + "/cgi-bin/message/send", params={"access_token": access}, json=text("zhangwei")
    ) as response:
        assert response.status == 502
    wecom.fail_next(0)
    with pytest.raises(aiohttp.ClientError):
        await send(http, wecom, access, text("zhangwei"))
    assert wecom.deliveries == []  # neither acted
    wecom.fail_next(500, process=True)
    async with http.post(
        wecom.api_base + "/cgi-bin/message/send", params={"access_token": access}, json=text("zhangwei")
    ) as response:
        assert response.status == 500
    assert len(wecom.delivered_to("zhangwei")) == 1  # acted, then failed to say so
    wecom.hang_next(1.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await send(http, wecom, access, text("zhangwei", "迟到"))
    assert wecom.delivered_to("zhangwei")[-1].message["content"] == "迟到"  # acted at once, answers late


# --- callbacks, encrypted by wechatpy ---


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], str]]]]:
    """A stand-in callback that records what WeCom POSTs and answers the URL verification with wechatpy."""
    received: list[tuple[dict[str, str], str]] = []
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)

    async def verify(request: web.Request) -> web.Response:
        query = request.query
        plain = crypto.check_signature(query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"])
        return web.Response(body=plain if isinstance(plain, bytes) else plain.encode())

    async def callback(request: web.Request) -> web.Response:
        received.append((dict(request.query), await request.text()))
        return web.Response(text="")

    app = web.Application()
    app.router.add_get("/wecom/callback", verify)
    app.router.add_post("/wecom/callback", callback)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://{server.host}:{server.port}/wecom/callback", received
    await server.close()


async def test_tap_posts_an_encrypted_template_card_event(
    wecom: FakeWeCom, http: aiohttp.ClientSession, receiver: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    url, received = receiver
    await send(http, wecom, await token(http, wecom), card("zhangwei"))
    assert await wecom.tap(url, "zhangwei", "incident-1", "ack:1") == (200, "")
    ((query, body),) = received
    assert "<Encrypt>" in body and "zhangwei" not in body and "ack:1" not in body
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    plain = crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
    (_, _, _, code) = wecom.taps[0]
    for part in ("[zhangwei]", "[template_card_event]", "[ack:1]", "[incident-1]", f"[{code}]"):
        assert part in plain
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto("another-token", AES_KEY, CORP_ID).decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]
        )


async def test_a_member_taps_only_a_card_delivered_to_them(
    wecom: FakeWeCom, http: aiohttp.ClientSession, receiver: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    url, received = receiver
    await send(http, wecom, await token(http, wecom), card("zhangwei"))
    with pytest.raises(ValueError):
        await wecom.tap(url, "lina", "incident-1", "ack:1")
    with pytest.raises(ValueError):
        await wecom.tap(url, "zhangwei", "incident-1", "no-such-button")
    assert received == []


async def test_the_tap_s_response_code_updates_the_card_once(
    wecom: FakeWeCom, http: aiohttp.ClientSession, receiver: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    url, _ = receiver
    access = await token(http, wecom)
    await send(http, wecom, access, card("zhangwei|lina"))
    await wecom.tap(url, "lina", "incident-1", "ack:1")
    (_, _, _, code) = wecom.taps[0]
    update = {"agentid": AGENT_ID, "response_code": code, "button": {"replace_name": "已确认"}}
    path = "/cgi-bin/message/update_template_card"
    assert (await post(http, wecom, path, access, update))["errcode"] == 0
    assert wecom.card(code).userids == ["lina"]
    assert (await post(http, wecom, path, access, update))["errcode"] == RESPONSE_CODE_INVALID


async def test_url_verification_is_driven_with_a_sealed_echostr(
    wecom: FakeWeCom, receiver: tuple[str, list[tuple[dict[str, str], str]]]
) -> None:
    url, _ = receiver
    assert await wecom.verify_url(url)
    query, plain = wecom.url_verification("echo-1")
    assert plain == "echo-1" and query["echostr"] != plain
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, CORP_ID).check_signature(
            "0" * 40, query["timestamp"], query["nonce"], query["echostr"]
        )
