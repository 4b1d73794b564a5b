"""The fake Aliyun against the official SDKs (dysmsapi 4.6, dyvmsapi 5.3): it must answer and refuse as Aliyun does."""

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
from alibabacloud_dysmsapi20170525 import models as sms_models
from alibabacloud_dysmsapi20170525.client import Client as SmsClient
from alibabacloud_dyvmsapi20170525 import models as voice_models
from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions

from carevisit.care.clock import FakeClock
from tests.escalation.fake_aliyun import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    CHINA,
    IVR_CALL,
    PROD_IVR,
    PROD_TTS,
    SEND_SMS,
    SHOW_NUMBER,
    SIGN_NAME,
    FakeAliyun,
    Limits,
    RandomFaults,
    SmsTemplate,
    TtsTemplate,
)

PHONE = "13900000001"
OTHER = "13900000002"
SMS_TEMPLATE = SmsTemplate("SMS_480000001", "${name}家中有紧急情况，请尽快联系社区。确认码${code}")
TTS_START = TtsTemplate("TTS_300000001", ("name",))
TTS_ACK = TtsTemplate("TTS_300000002")
TTS_BYE = TtsTemplate("TTS_300000003")


def make_fake(clock: FakeClock, **kwargs: Any) -> FakeAliyun:
    return FakeAliyun(clock, sms_templates=[SMS_TEMPLATE], tts_templates=[TTS_START, TTS_ACK, TTS_BYE], **kwargs)


@pytest.fixture
async def aliyun(clock: FakeClock) -> AsyncIterator[FakeAliyun]:
    fake = make_fake(clock)
    await fake.start()
    yield fake
    await fake.close()


def config(fake: FakeAliyun, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
        "endpoint": fake.endpoint,
        "protocol": "http",
    } | overrides
    return Config(**values)


def sms(fake: FakeAliyun, **overrides: Any) -> SmsClient:
    return SmsClient(config(fake, **overrides))


def voice(fake: FakeAliyun, **overrides: Any) -> VoiceClient:
    return VoiceClient(config(fake, **overrides))


def send_request(phone: str = PHONE, **overrides: Any) -> sms_models.SendSmsRequest:
    values: dict[str, Any] = {
        "phone_numbers": phone,
        "sign_name": SIGN_NAME,
        "template_code": SMS_TEMPLATE.code,
        "template_param": json.dumps({"name": "王 秀英", "code": "123456"}, ensure_ascii=False),
        "out_id": "outbox-7",
    } | overrides
    return sms_models.SendSmsRequest(**values)


def ivr_request(callee: str = PHONE, **overrides: Any) -> voice_models.IvrCallRequest:
    values: dict[str, Any] = {
        "called_show_number": SHOW_NUMBER,
        "called_number": callee,
        "start_code": TTS_START.code,
        "start_tts_params": json.dumps({"name": "王秀英"}, ensure_ascii=False),
        "menu_key_map": [voice_models.IvrCallRequestMenuKeyMap(key="1", code=TTS_ACK.code)],
        "play_times": 2,
        "timeout": 10000,
        "bye_code": TTS_BYE.code,
        "out_id": "outbox-8",
    } | overrides
    return voice_models.IvrCallRequest(**values)


def query_call(call_id: str, clock: FakeClock, prod: str = PROD_IVR) -> voice_models.QueryCallDetailByCallIdRequest:
    return voice_models.QueryCallDetailByCallIdRequest(
        call_id=call_id, prod_id=prod, query_date=int(clock.now().timestamp() * 1000)
    )


# --- signatures ---


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_an_sms_is_sent_with_either_signature_and_spaces_survive_it(aliyun: FakeAliyun, algorithm: str) -> None:
    answer = (await sms(aliyun, signature_algorithm=algorithm).send_sms_async(send_request())).body
    assert answer.code == "OK" and answer.message == "OK" and answer.request_id
    digits = answer.biz_id.split("^")
    assert len(digits) == 2 and all(part.isdigit() for part in digits)
    [sent] = aliyun.sms_to(PHONE)
    assert sent.out_id == "outbox-7" and sent.params == {"name": "王 秀英", "code": "123456"}
    assert sent.content == f"【{SIGN_NAME}】王 秀英家中有紧急情况，请尽快联系社区。确认码123456"


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_a_wrong_secret_is_a_signature_mismatch(aliyun: FakeAliyun, algorithm: str) -> None:
    client = sms(aliyun, access_key_secret="not-the-secret", signature_algorithm=algorithm)
    with pytest.raises(ClientException) as raised:
        await client.send_sms_async(send_request())
    assert raised.value.status_code == 400 and raised.value.code == "SignatureDoesNotMatch"
    assert aliyun.messages == []


async def test_an_unknown_access_key_is_not_found(aliyun: FakeAliyun) -> None:
    with pytest.raises(ClientException) as raised:
        await sms(aliyun, access_key_id="LTAI-nobody").send_sms_async(send_request())
    assert raised.value.status_code == 404 and raised.value.code == "InvalidAccessKeyId.NotFound"


async def replay(fake: FakeAliyun, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "accept-encoding")}
        async with http.request(method, f"http://{fake.endpoint}{path}", headers=headers) as response:
            return response.status, await response.json()


async def test_a_tampered_request_and_a_replayed_nonce_are_refused(aliyun: FakeAliyun) -> None:
    await sms(aliyun).send_sms_async(send_request())
    method, path, headers = aliyun.seen[-1]
    status, body = await replay(aliyun, method, path.replace("13900000001", "13900000009"), headers)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    status, body = await replay(aliyun, method, path, headers)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    headers = headers | {"x-acs-action": "QuerySendDetails"}  # a signed header changed
    status, body = await replay(aliyun, method, path, headers)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert len(aliyun.messages) == 1


async def test_a_request_stamped_too_far_from_aliyuns_clock_is_expired(clock: FakeClock) -> None:
    wall = FakeClock(clock.now() - timedelta(hours=3))  # the SDK stamps the real time: far from this "Aliyun" clock
    fake = make_fake(clock, wall=wall)
    await fake.start()
    try:
        with pytest.raises(ClientException) as raised:
            await sms(fake).send_sms_async(send_request())
        assert raised.value.code == "InvalidTimeStamp.Expired"
    finally:
        await fake.close()


# --- SendSms refusals ---


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"phone_numbers": "+447700900123"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"phone_numbers": "12345"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"phone_numbers": "01012345678"}, "isv.MOBILE_NUMBER_ILLEGAL"),  # a landline takes no SMS
        ({"sign_name": "未报备签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"template_code": "SMS_999"}, "isv.SMS_TEMPLATE_ILLEGAL"),
        ({"template_param": json.dumps({"name": "王秀英"})}, "isv.TEMPLATE_MISSING_PARAMS"),
        ({"template_param": json.dumps({"name": "王", "code": "1", "x": "2"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": "not json"}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": json.dumps({"name": "王", "code": "http://a.cn/x"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": json.dumps({"name": "王", "code": "https://a.cn"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": json.dumps({"name": "www.example", "code": "1"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": json.dumps({"name": "王", "code": "t.cn/A6x"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"template_param": json.dumps({"name": "王" * 36, "code": "1"})}, "isv.PARAM_LENGTH_LIMIT"),
    ],
)
async def test_sendsms_refuses_what_aliyun_refuses(aliyun: FakeAliyun, overrides: dict[str, str], code: str) -> None:
    answer = (await sms(aliyun).send_sms_async(send_request(**overrides))).body
    assert answer.code == code and answer.biz_id is None
    assert aliyun.messages == [] and aliyun.refusals == [(SEND_SMS, code)]


@pytest.mark.parametrize("written", ["8613900000001", "+8613900000001", "008613900000001", "13900000001"])
async def test_mainland_numbers_are_taken_with_or_without_the_country_code(aliyun: FakeAliyun, written: str) -> None:
    assert (await sms(aliyun).send_sms_async(send_request(written))).body.code == "OK"
    assert [m.phone for m in aliyun.messages] == [PHONE]


async def test_an_empty_account_is_amount_not_enough(aliyun: FakeAliyun) -> None:
    aliyun.balance_empty = True
    assert (await sms(aliyun).send_sms_async(send_request())).body.code == "isv.AMOUNT_NOT_ENOUGH"
    assert (await voice(aliyun).ivr_call_async(ivr_request())).body.code == "isv.AMOUNT_NOT_ENOUGH"


async def test_fifty_a_day_per_sign_template_and_number_in_a_rolling_day(aliyun: FakeAliyun, clock: FakeClock) -> None:
    client = sms(aliyun)
    first = clock.now()
    for _ in range(25):
        assert (await client.send_sms_async(send_request())).body.code == "OK"
    clock.advance(timedelta(hours=12))
    for _ in range(25):
        assert (await client.send_sms_async(send_request())).body.code == "OK"
    assert (await client.send_sms_async(send_request())).body.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert (await client.send_sms_async(send_request(OTHER))).body.code == "OK"  # another number: its own count
    clock.set(first + timedelta(hours=24))  # the first 25 leave the rolling day; the later 25 still count
    for _ in range(25):
        assert (await client.send_sms_async(send_request())).body.code == "OK"
    assert (await client.send_sms_async(send_request())).body.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert len(aliyun.sms_to(PHONE)) == 75


# --- QuerySendDetails ---


async def test_send_details_by_phone_and_day_follow_the_receipt(aliyun: FakeAliyun, clock: FakeClock) -> None:
    client = sms(aliyun)
    biz_id = (await client.send_sms_async(send_request())).body.biz_id
    await client.send_sms_async(send_request())
    day = clock.now().astimezone(CHINA).strftime("%Y%m%d")

    body = (await client.query_send_details_async(query(day))).body
    assert body.code == "OK" and body.total_count == 2
    first = body.sms_send_detail_dtos.sms_send_detail_dto[0]
    assert (first.phone_num, first.send_status, first.template_code, first.out_id) == (
        PHONE,
        1,
        SMS_TEMPLATE.code,
        "outbox-7",
    )
    assert first.send_date == clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    assert "确认码123456" in first.content
    aliyun.sms_report(biz_id, success=False, err_code="MK:0005")
    body = (await client.query_send_details_async(query(day, biz_id=biz_id))).body
    [detail] = body.sms_send_detail_dtos.sms_send_detail_dto
    assert (detail.send_status, detail.err_code) == (2, "MK:0005") and detail.receive_date
    page = (await client.query_send_details_async(query(day, page_size=1, current_page=2))).body
    assert page.total_count == 2 and len(page.sms_send_detail_dtos.sms_send_detail_dto) == 1
    yesterday = (clock.now() - timedelta(days=1)).astimezone(CHINA).strftime("%Y%m%d")
    assert (await client.query_send_details_async(query(yesterday))).body.total_count == 0
    too_big = (await client.query_send_details_async(query(day, page_size=51))).body
    assert too_big.code == "isv.INVALID_PARAMETERS"


def query(day: str, **extra: Any) -> sms_models.QuerySendDetailsRequest:
    values: dict[str, Any] = {"phone_number": PHONE, "send_date": day, "page_size": 10, "current_page": 1} | extra
    return sms_models.QuerySendDetailsRequest(**values)


# --- voice ---


@pytest.mark.parametrize("algorithm", [None, "v2"])
async def test_an_ivr_call_and_a_tts_call_are_placed(aliyun: FakeAliyun, algorithm: str) -> None:
    client = voice(aliyun, signature_algorithm=algorithm)
    answer = (await client.ivr_call_async(ivr_request())).body
    assert answer.code == "OK" and answer.call_id and answer.request_id
    call = aliyun.call(answer.call_id)
    assert call.menu == [{"Key": "1", "Code": TTS_ACK.code}] and call.bye_code == TTS_BYE.code
    assert (call.play_times, call.timeout_ms, call.out_id) == (2, 10000, "outbox-8")
    tts = voice_models.SingleCallByTtsRequest(
        called_number=OTHER, tts_code=TTS_START.code, tts_param=json.dumps({"name": "王 秀英"}), play_times=1
    )
    answer = (await client.single_call_by_tts_async(tts)).body
    assert answer.code == "OK" and aliyun.call(answer.call_id).params == {"name": "王 秀英"}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"called_show_number": "057100000000"}, "isv.DISPLAY_NUMBER_ILLEGAL"),
        ({"called_number": "+447700900123"}, "isv.MOBILE_NUMBER_ILLEGAL"),
        ({"start_code": "TTS_999"}, "isv.TTS_TEMPLATE_ILLEGAL"),
        ({"start_tts_params": "{}"}, "isv.TEMPLATE_MISSING_PARAMS"),
        ({"start_tts_params": json.dumps({"name": "www.x.cn"})}, "isv.TEMPLATE_PARAMS_ILLEGAL"),
        ({"menu_key_map": [voice_models.IvrCallRequestMenuKeyMap(key="1", code="TTS_9")]}, "isv.TTS_TEMPLATE_ILLEGAL"),
        ({"play_times": 4}, "isv.INVALID_PARAMETERS"),
    ],
)
async def test_ivrcall_refuses_what_aliyun_refuses(aliyun: FakeAliyun, overrides: dict[str, Any], code: str) -> None:
    assert (await voice(aliyun).ivr_call_async(ivr_request(**overrides))).body.code == code
    assert aliyun.calls == []


async def test_one_call_a_minute_per_callee_refused_calls_not_counting(aliyun: FakeAliyun, clock: FakeClock) -> None:
    client = voice(aliyun)
    assert (await client.ivr_call_async(ivr_request())).body.code == "OK"
    clock.advance(timedelta(seconds=59))
    assert (await client.ivr_call_async(ivr_request())).body.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert (await client.ivr_call_async(ivr_request(OTHER))).body.code == "OK"
    clock.advance(timedelta(seconds=1))
    assert (await client.ivr_call_async(ivr_request())).body.code == "OK"
    assert len(aliyun.calls_to(PHONE)) == 2


async def test_the_hour_window_starts_at_the_first_call_and_resets_after_it(clock: FakeClock) -> None:
    fake = make_fake(clock, limits=Limits(voice_per_minute=100))
    await fake.start()
    try:
        client, start = voice(fake), clock.now()

        async def call_at(minutes: int) -> str:
            clock.set(start + timedelta(minutes=minutes))
            return str((await client.ivr_call_async(ivr_request())).body.code)

        assert [await call_at(m) for m in (0, 56, 57, 58, 59)] == ["OK"] * 5
        assert await call_at(59) == "isv.BUSINESS_LIMIT_CONTROL"
        # A rolling hour would refuse at 61 (five calls since minute 1); Aliyun's window started at 0 and reset.
        assert [await call_at(m) for m in (60, 61, 62, 63, 64)] == ["OK"] * 5
        assert await call_at(65) == "isv.BUSINESS_LIMIT_CONTROL"
    finally:
        await fake.close()


async def test_twenty_calls_a_day_failed_ones_counting(clock: FakeClock) -> None:
    fake = make_fake(clock, limits=Limits(voice_per_minute=100, voice_per_hour=100))
    await fake.start()
    try:
        client = voice(fake)
        fake.callee_does_not_answer(PHONE)
        for _ in range(20):
            call_id = (await client.ivr_call_async(ivr_request())).body.call_id
            fake.run_call(call_id)
            clock.advance(timedelta(minutes=30))
        assert (await client.ivr_call_async(ivr_request())).body.code == "isv.BUSINESS_LIMIT_CONTROL"
        clock.advance(timedelta(hours=15))  # 24 h after the first call
        assert (await client.ivr_call_async(ivr_request())).body.code == "OK"
    finally:
        await fake.close()


async def test_call_detail_says_answered_but_not_which_key(aliyun: FakeAliyun, clock: FakeClock) -> None:
    client = voice(aliyun)
    aliyun.callee_presses(PHONE, "1")
    call_id = (await client.ivr_call_async(ivr_request())).body.call_id
    assert (await client.query_call_detail_by_call_id_async(query_call(call_id, clock))).body.data is None
    aliyun.run_call(call_id)
    body = (await client.query_call_detail_by_call_id_async(query_call(call_id, clock))).body
    data = json.loads(body.data)
    assert body.code == "OK" and data["callee"] == PHONE and data["state"] == "200000" and data["duration"] > 0
    assert "dtmf" not in json.dumps(data)
    assert (await client.query_call_detail_by_call_id_async(query_call(call_id, clock, PROD_TTS))).body.data is None
    clock.advance(timedelta(days=1))  # QueryDate names the day of the call
    assert (await client.query_call_detail_by_call_id_async(query_call(call_id, clock))).body.data is None


@pytest.mark.parametrize(("behave", "state"), [("answers", "200008"), ("does_not_answer", "200003")])
async def test_call_detail_of_a_call_without_a_key(
    aliyun: FakeAliyun, clock: FakeClock, behave: str, state: str
) -> None:
    getattr(aliyun, f"callee_{behave}")(PHONE)
    client = voice(aliyun)
    call_id = (await client.ivr_call_async(ivr_request())).body.call_id
    aliyun.run_call(call_id)
    data = json.loads((await client.query_call_detail_by_call_id_async(query_call(call_id, clock))).body.data)
    assert data["state"] == state and (data["duration"] > 0) == (behave == "answers")


# --- failures ---


def runtime(timeout_ms: int = 1000) -> RuntimeOptions:
    return RuntimeOptions(autoretry=False, max_attempts=0, read_timeout=timeout_ms, connect_timeout=timeout_ms)


async def test_a_5xx_after_acting_leaves_a_message_sent(aliyun: FakeAliyun) -> None:
    aliyun.fail_next(503, action=SEND_SMS, process=True)
    with pytest.raises(ServerException) as raised:
        await sms(aliyun).send_sms_with_options_async(send_request(), runtime())
    assert raised.value.status_code == 503 and len(aliyun.messages) == 1
    aliyun.fail_next(500, code="InternalError")
    with pytest.raises(ServerException):
        await sms(aliyun).send_sms_with_options_async(send_request(), runtime())
    assert len(aliyun.messages) == 1


async def test_random_faults_fail_sends_as_drawn_and_each_message_is_stamped(aliyun: FakeAliyun) -> None:
    aliyun.faults = RandomFaults(error_rate=1.0, timeout_rate=0.0)
    with pytest.raises(ServerException) as refused:
        await sms(aliyun).send_sms_with_options_async(send_request(), runtime())
    assert refused.value.status_code == 503 and aliyun.messages == []
    aliyun.faults = RandomFaults(error_rate=0.0, timeout_rate=1.0, hang=1.5)
    with pytest.raises(Exception) as held:
        await sms(aliyun).send_sms_with_options_async(send_request(), runtime(300))
    assert not isinstance(held.value, ClientException | ServerException)
    [message] = aliyun.messages  # acted on although the answer came too late
    assert 0 < message.request_at <= asyncio.get_running_loop().time()
    assert aliyun.faults.injected == {"timeout": 1}


async def test_a_dropped_connection_and_a_held_answer(aliyun: FakeAliyun) -> None:
    aliyun.drop_next(action=IVR_CALL, process=True)
    with pytest.raises(Exception) as dropped:
        await voice(aliyun).ivr_call_with_options_async(ivr_request(), runtime())
    assert not isinstance(dropped.value, ClientException | ServerException) and len(aliyun.calls) == 1
    aliyun.hang_next(1.5, action=SEND_SMS)
    with pytest.raises(Exception) as held:
        await sms(aliyun).send_sms_with_options_async(send_request(), runtime(300))
    assert not isinstance(held.value, ClientException | ServerException) and len(aliyun.messages) == 1


# --- pushes ---


@pytest.fixture
async def receiver(aliyun: FakeAliyun) -> AsyncIterator[list[tuple[str, Any]]]:
    """carevisit's side of the push, as a plain recorder answering what Aliyun expects."""
    got: list[tuple[str, Any]] = []

    async def take(request: web.Request) -> web.Response:
        got.append((request.match_info["push"], await request.json()))
        if request.headers.get("Authorization") or request.headers.get("x-acs-signature"):
            raise AssertionError("Aliyun's pushes are unsigned")
        return web.json_response({"code": 0, "msg": "成功"})

    app = web.Application()
    app.router.add_post("/pager/aliyun/secret/{push}", take)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    aliyun.callback_base = str(server.make_url("/pager/aliyun/secret"))
    yield got
    await server.close()


async def test_a_pressed_key_is_pushed_then_the_call_record(aliyun: FakeAliyun, receiver: list[Any]) -> None:
    aliyun.callee_presses(PHONE, "1")
    call_id = (await voice(aliyun).ivr_call_async(ivr_request())).body.call_id
    await aliyun.push_call(call_id)
    [(first, [report]), (second, [record])] = receiver
    assert first == "VoiceCallReport" and report["dtmf"] == "1" and report["status_code"] == "300000"
    assert report["call_id"] == call_id and report["out_id"] == "outbox-8"
    assert second == "VoiceReport" and record["status_code"] == "200000" and record["callee"] == PHONE


async def test_pushes_can_come_twice_reversed_or_not_at_all(aliyun: FakeAliyun, receiver: list[Any]) -> None:
    aliyun.callee_presses(PHONE, "1")
    client = voice(aliyun)
    call_id = (await client.ivr_call_async(ivr_request())).body.call_id
    await aliyun.push_call(call_id, order="reversed", times=2)
    assert [kind for kind, _ in receiver] == ["VoiceReport", "VoiceReport", "VoiceCallReport", "VoiceCallReport"]
    receiver.clear()
    call_id = (await client.ivr_call_async(ivr_request(OTHER))).body.call_id
    await aliyun.push_call(call_id, skip=("VoiceCallReport", "VoiceReport"))
    assert receiver == []


async def test_sms_receipts_and_replies_are_pushed(aliyun: FakeAliyun, receiver: list[Any]) -> None:
    biz_id = (await sms(aliyun).send_sms_async(send_request())).body.biz_id
    await aliyun.push("SmsReport", [aliyun.sms_report(biz_id, success=False, err_code="MK:0005")])
    await aliyun.push("SmsUp", [aliyun.sms_up("+8613900000001", "收到")])
    [(_, [report]), (_, [reply])] = receiver
    assert report == report | {"phone_number": PHONE, "success": False, "biz_id": biz_id, "out_id": "outbox-7"}
    assert report["err_code"] == "MK:0005" and report["send_time"] and report["report_time"]
    assert reply["phone_number"] == PHONE and reply["content"] == "收到" and reply["sign_name"] == SIGN_NAME


async def test_a_push_not_acknowledged_is_sent_again(aliyun: FakeAliyun) -> None:
    answers = [web.json_response({"code": 1}), web.json_response({"code": 0, "msg": "成功"})]

    async def take(request: web.Request) -> web.Response:
        return answers.pop(0)

    app = web.Application()
    app.router.add_post("/cb/{push}", take)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        aliyun.callback_base = str(server.make_url("/cb"))
        assert await aliyun.push("SmsUp", [aliyun.sms_up(PHONE, "1")]) == [200]
        assert len(aliyun.pushes) == 2 and answers == []
    finally:
        await server.close()
