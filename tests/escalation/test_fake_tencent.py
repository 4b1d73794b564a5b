"""The fake Tencent SMS/VMS server against the official SDK (async SmsClient, async CommonClient for vms): it must
answer, refuse, limit and push as Tencent does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from tencentcloud.common.common_client_async import CommonClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models
from tencentcloud.sms.v20210111.sms_client_async import SmsClient

from carevisit.care.clock import FakeClock, SystemClock
from tests.escalation.fake_tencent import (
    BEIJING,
    REGION,
    SECRET_ID,
    SECRET_KEY,
    SIGN_NAME,
    SMS_APP_ID,
    VMS_VERSION,
    VOICE_APP_ID,
    FakeTencent,
    Push,
    RandomFaults,
    split_e164,
)

TO = "+8613900000001"
OTHER = "+8613900000002"
PARAMS = ["王秀英", "跌倒", "张伟", "123456"]


@pytest.fixture
async def tencent(clock: FakeClock) -> AsyncIterator[FakeTencent]:
    fake = FakeTencent(clock)
    await fake.start()
    yield fake
    await fake.close()


def profile(fake: FakeTencent, timeout: float = 5) -> ClientProfile:
    return ClientProfile(httpProfile=HttpProfile(endpoint=fake.endpoint, protocol="http", reqTimeout=timeout))


@pytest.fixture
async def sms(tencent: FakeTencent) -> AsyncIterator[SmsClient]:
    client = SmsClient(Credential(SECRET_ID, SECRET_KEY), REGION, profile(tencent))
    yield client
    await client.close()


@pytest.fixture
async def vms(tencent: FakeTencent) -> AsyncIterator[CommonClient]:
    client = CommonClient("vms", VMS_VERSION, Credential(SECRET_ID, SECRET_KEY), REGION, profile(tencent))
    yield client
    await client.close()


async def send(client: SmsClient, numbers: list[str], *, template: str = "2480001", **overrides: Any) -> Any:
    request = models.SendSmsRequest()
    request.from_json_string(
        json.dumps(
            {
                "PhoneNumberSet": numbers,
                "SmsSdkAppId": SMS_APP_ID,
                "SignName": SIGN_NAME,
                "TemplateId": template,
                "TemplateParamSet": PARAMS,
                "SessionContext": "outbox-7",
            }
            | overrides
        )
    )
    return await client.SendSms(request)


async def call(client: CommonClient, to: str = TO, **overrides: Any) -> dict[str, Any]:
    params = {
        "TemplateId": "2580001",
        "CalledNumber": to,
        "VoiceSdkAppid": VOICE_APP_ID,
        "TemplateParamSet": ["王秀英", "跌倒", "张伟"],
        "PlayTimes": 2,
        "SessionContext": "outbox-9",
    } | overrides
    answer: dict[str, Any] = await client.call_and_deserialize("SendTtsVoice", params)
    return answer["Response"]


async def pull(client: SmsClient, number: str, since: datetime, **overrides: Any) -> Any:
    request = models.PullSmsSendStatusByPhoneNumberRequest()
    fields = {"BeginTime": int(since.timestamp()), "Offset": 0, "Limit": 100, "PhoneNumber": number}
    request.from_json_string(json.dumps(fields | {"SmsSdkAppId": SMS_APP_ID} | overrides))
    return (await client.PullSmsSendStatusByPhoneNumber(request)).PullSmsSendStatusSet


async def refused(request: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as caught:
        await request
    return str(caught.value.code)


async def test_an_sms_is_sent_per_number_with_its_session_context(sms: SmsClient, tencent: FakeTencent) -> None:
    answer = await send(sms, [TO, OTHER])
    statuses = answer.SendStatusSet
    assert [s.Code for s in statuses] == ["Ok", "Ok"]
    assert [s.PhoneNumber for s in statuses] == [TO, OTHER]
    assert statuses[0].SessionContext == "outbox-7" and statuses[0].Fee == 1 and statuses[0].SerialNo
    sent = tencent.get_sms(statuses[0].SerialNo)
    assert sent.content.startswith(f"【{SIGN_NAME}】王秀英老人发生紧急情况（跌倒）")


async def test_a_tampered_or_unknown_signature_is_refused(tencent: FakeTencent) -> None:
    wrong_key = SmsClient(Credential(SECRET_ID, "not-the-key"), REGION, profile(tencent))
    unknown_id = SmsClient(Credential("AKIDunknown", SECRET_KEY), REGION, profile(tencent))
    try:
        assert await refused(send(wrong_key, [TO])) == "AuthFailure.SignatureFailure"
        assert await refused(send(unknown_id, [TO])) == "AuthFailure.SecretIdNotFound"
    finally:
        await wrong_key.close()
        await unknown_id.close()
    assert tencent.sms == []


async def test_a_body_changed_after_signing_is_refused(tencent: FakeTencent, sms: SmsClient) -> None:
    # A signed request captured on the wire, replayed with another number in its body.
    captured: list[httpx.Request] = []
    original = sms.http_client.send

    async def capture(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        captured.append(request)
        return await original(request, **kwargs)

    sms.http_client.send = capture  # type: ignore[method-assign]
    await send(sms, [TO])
    signed = captured[0]
    body = signed.content.replace(TO.encode(), OTHER.encode())
    async with httpx.AsyncClient() as raw:
        answer = await raw.post(str(signed.url), content=body, headers=dict(signed.headers))
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert tencent.sms_to(OTHER) == []


async def test_a_stale_timestamp_is_refused_as_expired(clock: FakeClock) -> None:
    # The fake's signing clock is ten minutes ahead of the wall clock the SDK signs with.
    ahead = FakeClock(SystemClock().now() + timedelta(minutes=10))
    fake = FakeTencent(clock, signing_clock=ahead)
    await fake.start()
    client = SmsClient(Credential(SECRET_ID, SECRET_KEY), REGION, profile(fake))
    try:
        assert await refused(send(client, [TO])) == "AuthFailure.SignatureExpire"
    finally:
        await client.close()
        await fake.close()


async def test_wrong_app_sign_template_and_variables_are_refused(sms: SmsClient, tencent: FakeTencent) -> None:
    assert await refused(send(sms, [TO], SmsSdkAppId="1400999999")) == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    assert await refused(send(sms, [TO], SignName="别的签名")) == "FailedOperation.SignatureIncorrectOrUnapproved"
    assert await refused(send(sms, [TO], template="9999999")) == "FailedOperation.TemplateIncorrectOrUnapproved"
    assert (
        await refused(send(sms, [TO], TemplateParamSet=["王秀英"]))
        == "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
    )
    link = ["王秀英", "跌倒", "张伟", "https://x.cn/a?c=1"]
    assert (
        await refused(send(sms, [TO], TemplateParamSet=link))
        == "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"
    )
    too_long = ["王" * 250, "跌倒", "张" * 250, "123456"]
    assert await refused(send(sms, [TO], TemplateParamSet=too_long)) == "InvalidParameterValue.ContentLengthLimit"
    assert await refused(send(sms, [])) == "MissingParameter.EmptyPhoneNumberSet"
    many = [f"+86139{n:08d}" for n in range(201)]
    assert await refused(send(sms, many)) == "LimitExceeded.PhoneNumberCountLimit"
    assert tencent.sms == []


async def test_an_individual_account_refuses_variables_over_12_characters(sms: SmsClient, tencent: FakeTencent) -> None:
    long_name = ["王秀英" * 5, "跌倒", "张伟", "123456"]
    assert (await send(sms, [TO], TemplateParamSet=long_name)).SendStatusSet[0].Code == "Ok"
    tencent.individual = True
    assert (
        await refused(send(sms, [OTHER], TemplateParamSet=long_name))
        == "InvalidParameterValue.TemplateParameterLengthLimit"
    )


async def test_a_bad_number_is_a_status_in_the_set_not_an_error(sms: SmsClient) -> None:
    statuses = (await send(sms, ["13900000001", TO])).SendStatusSet
    assert [s.Code for s in statuses] == ["InvalidParameterValue.IncorrectPhoneNumber", "Ok"]


async def test_sms_limits_are_per_number_statuses(sms: SmsClient, tencent: FakeTencent, clock: FakeClock) -> None:
    assert (await send(sms, [TO])).SendStatusSet[0].Code == "Ok"
    # Same content to the same number within 30 s; the other number is sent.
    again = (await send(sms, [TO, OTHER])).SendStatusSet
    assert [s.Code for s in again] == ["LimitExceeded.PhoneNumberThirtySecondLimit", "Ok"]
    assert again[0].SerialNo == ""
    clock.advance(timedelta(seconds=31))
    assert (await send(sms, [TO])).SendStatusSet[0].Code == "Ok"
    clock.advance(timedelta(minutes=5))
    third = (await send(sms, [TO], template="2480003", TemplateParamSet=["3", "王秀英", "123456"])).SendStatusSet
    assert third[0].Code == "LimitExceeded.PhoneNumberDailyLimit"
    assert len(tencent.sms_to(TO)) == 2
    # The day is Beijing's: at 00:00 Asia/Shanghai the count starts again.
    midnight = datetime.combine(clock.now().astimezone(BEIJING).date() + timedelta(days=1), datetime.min.time())
    clock.set(midnight.replace(tzinfo=BEIJING))
    assert (await send(sms, [TO])).SendStatusSet[0].Code == "Ok"


async def test_the_same_content_daily_limit_is_configurable(
    sms: SmsClient, tencent: FakeTencent, clock: FakeClock
) -> None:
    tencent.sms_limits.per_day = 10
    tencent.sms_limits.same_content_per_day = 1
    await send(sms, [TO])
    clock.advance(timedelta(minutes=1))
    assert (await send(sms, [TO])).SendStatusSet[0].Code == "LimitExceeded.PhoneNumberSameContentDailyLimit"


async def test_with_a_charset_the_sdk_returns_an_empty_model(sms: SmsClient, tencent: FakeTencent) -> None:
    # Corrections #2: the SDK checks Response.Error only under exactly `application/json`.
    tencent.charset = True
    answer = await send(sms, [TO], SignName="别的签名")
    assert answer.SendStatusSet is None
    assert tencent.refusals == ["FailedOperation.SignatureIncorrectOrUnapproved"]


async def test_statuses_are_pulled_by_number_once_reported(
    sms: SmsClient, tencent: FakeTencent, clock: FakeClock
) -> None:
    since = clock.now() - timedelta(minutes=1)
    serial = (await send(sms, [TO])).SendStatusSet[0].SerialNo
    assert await pull(sms, TO, since) == []  # no receipt yet: Tencent's pull knows only reported statuses
    clock.advance(tencent.report_lag or timedelta())
    found = await pull(sms, TO, since)
    assert [(s.SerialNo, s.ReportStatus, s.SessionContext, s.PhoneNumber) for s in found] == [
        (serial, "SUCCESS", "outbox-7", TO)
    ]
    assert (found[0].CountryCode, found[0].SubscriberNumber) == ("86", "13900000001")
    assert await pull(sms, TO, since) != []  # by number is a query: asked again, answered again
    assert await pull(sms, OTHER, since) == []
    assert await refused(pull(sms, TO, since, Limit=101)) == "InvalidParameterValue.LimitVerifyFail"
    later = clock.now() + timedelta(hours=1)
    assert await refused(pull(sms, TO, later)) == "InvalidParameterValue.BeginTimeVerifyFail"


async def test_the_status_queue_gives_each_status_once(sms: SmsClient, tencent: FakeTencent) -> None:
    serial = (await send(sms, [TO])).SendStatusSet[0].SerialNo
    tencent.report(serial, "FAIL", errmsg="MK:0005")
    request = models.PullSmsSendStatusRequest()
    request.from_json_string(json.dumps({"Limit": 10, "SmsSdkAppId": SMS_APP_ID}))
    first = (await sms.PullSmsSendStatus(request)).PullSmsSendStatusSet
    assert [(s.SerialNo, s.ReportStatus, s.Description) for s in first] == [(serial, "FAIL", "MK:0005")]
    assert (await sms.PullSmsSendStatus(request)).PullSmsSendStatusSet == []


async def test_a_call_is_placed_through_the_common_client(vms: CommonClient, tencent: FakeTencent) -> None:
    answer = await call(vms)
    call_id = answer["SendStatus"]["CallId"]
    assert answer["SendStatus"]["SessionContext"] == "outbox-9" and answer["RequestId"]
    placed = tencent.get_call(call_id)
    assert (placed.to, placed.play_times, placed.params) == (TO, 2, ["王秀英", "跌倒", "张伟"])
    assert tencent.requests == [("vms", "SendTtsVoice")]


async def test_voice_refusals(vms: CommonClient, tencent: FakeTencent) -> None:
    assert await refused(call(vms, VoiceSdkAppid="1")) == "UnauthorizedOperation.VoiceSdkAppidVerifyFail"
    assert await refused(call(vms, TemplateId="1")) == "FailedOperation.TemplateIncorrectOrUnapproved"
    assert await refused(call(vms, TemplateParamSet=["王秀英"])) == "FailedOperation.TemplateIncorrectOrUnapproved"
    assert await refused(call(vms, "13900000001")) == "InvalidParameterValue.CalledNumberVerifyFail"
    assert await refused(call(vms, PlayTimes=4)) == "FailedOperation.InvalidParameters"
    long = ["王" * 200, "跌倒", "张" * 150]
    assert await refused(call(vms, TemplateParamSet=long)) == "InvalidParameterValue.ContentLengthLimit"
    # A client signing as sms cannot call vms actions.
    wrong = CommonClient("sms", VMS_VERSION, Credential(SECRET_ID, SECRET_KEY), REGION, profile(tencent))
    try:
        assert await refused(call(wrong)) == "InvalidAction"
    finally:
        await wrong.close()
    assert tencent.calls == []


async def test_voice_limits_per_callee(vms: CommonClient, tencent: FakeTencent, clock: FakeClock) -> None:
    limited = "LimitExceeded.DeliveryFrequencyLimit"
    await call(vms)
    assert await refused(call(vms)) == limited  # 1 per 30 s
    await call(vms, OTHER)  # another callee is not limited
    clock.advance(timedelta(seconds=31))
    await call(vms)
    clock.advance(timedelta(seconds=31))
    assert await refused(call(vms)) == limited  # 2 per 10 min
    for _ in range(3):
        clock.advance(timedelta(minutes=11))
        await call(vms)
    clock.advance(timedelta(minutes=11))
    assert await refused(call(vms)) == limited  # 5 a day
    assert len(tencent.calls_to(TO)) == 5


async def test_at_night_one_call_per_callee(vms: CommonClient, tencent: FakeTencent, clock: FakeClock) -> None:
    clock.set(datetime(2026, 3, 10, 23, 0, tzinfo=BEIJING))
    await call(vms)
    clock.advance(timedelta(hours=1))
    assert await refused(call(vms)) == "LimitExceeded.DeliveryFrequencyLimit"
    clock.set(datetime(2026, 3, 11, 8, 0, tzinfo=BEIJING))
    await call(vms)


async def test_5xx_drops_late_answers_and_top_level_errors(sms: SmsClient, tencent: FakeTencent) -> None:
    tencent.fail_next(502)
    assert await refused(send(sms, [TO])) == "ServerNetworkError"
    tencent.fail_next(0, process=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await send(sms, [TO])
    assert len(tencent.sms_to(TO)) == 1  # it was sent although nobody heard the answer
    tencent.error_next("RequestLimitExceeded", "too many requests")
    assert await refused(send(sms, [OTHER])) == "RequestLimitExceeded"
    tencent.error_next("InternalError", service="vms")
    assert (await send(sms, [OTHER])).SendStatusSet[0].Code == "Ok"  # aimed at vms only
    impatient = SmsClient(Credential(SECRET_ID, SECRET_KEY), REGION, profile(tencent, timeout=0.3))
    tencent.hang_next(1.0)
    try:
        with pytest.raises(httpx.TimeoutException):
            await send(impatient, ["+8613900000003"])
    finally:
        await impatient.close()
    assert len(tencent.sms_to("+8613900000003")) == 1


async def test_random_faults_fail_sends_as_drawn_and_each_message_is_stamped(
    sms: SmsClient, tencent: FakeTencent
) -> None:
    tencent.faults = RandomFaults(error_rate=1.0, timeout_rate=0.0)
    assert await refused(send(sms, [TO])) == "ServerNetworkError"
    assert tencent.sms == []
    tencent.faults = RandomFaults(error_rate=0.0, timeout_rate=1.0, hang=1.0)
    impatient = SmsClient(Credential(SECRET_ID, SECRET_KEY), REGION, profile(tencent, timeout=0.3))
    try:
        with pytest.raises(httpx.TimeoutException):
            await send(impatient, [TO])
    finally:
        await impatient.close()
    [message] = tencent.sms  # acted on although the answer came too late
    assert 0 < message.request_at <= asyncio.get_running_loop().time()
    assert tencent.faults.injected == {"timeout": 1}


class Receiver:
    """Carevisit's side of the pushes, for these tests: records what arrives, answers as Tencent expects."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/pager/tencent/s3cret/{push}", self.on_push)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/pager/tencent/s3cret"))

    async def on_push(self, request: web.Request) -> web.Response:
        assert "Authorization" not in request.headers  # Tencent signs nothing
        self.received.append((request.match_info["push"], await request.json()))
        return web.json_response({"result": 0, "errmsg": "OK"})


@pytest.fixture
async def receiver(tencent: FakeTencent) -> AsyncIterator[Receiver]:
    made = Receiver()
    tencent.push_base = await made.start()
    yield made
    assert made.server is not None
    await made.server.close()


async def test_pushes_have_tencents_shapes(
    sms: SmsClient, vms: CommonClient, tencent: FakeTencent, receiver: Receiver
) -> None:
    serial = (await send(sms, [TO])).SendStatusSet[0].SerialNo
    assert await tencent.deliver_report(serial, "FAIL", errmsg="MK:0005") == 200
    kind, body = receiver.received[-1]
    assert kind == "sms_status" and isinstance(body, list)
    assert body[0] | {"user_receive_time": "-"} == {
        "user_receive_time": "-",
        "nationcode": "86",
        "mobile": "13900000001",
        "report_status": "FAIL",
        "errmsg": "MK:0005",
        "description": "用户短信接收失败",
        "sid": serial,
    }
    call_id = (await call(vms))["SendStatus"]["CallId"]
    assert await tencent.answer(call_id, key="1") == [200, 200]
    assert [k for k, _ in receiver.received[-2:]] == ["voicekey", "voiceprompt"]
    key = receiver.received[-2][1]["voicekey_callback"]
    assert key == {"call_from": "", "callid": call_id, "keypress": "1", "mobile": "13900000001", "nationcode": "86"}
    prompt = receiver.received[-1][1]["voiceprompt_callback"]
    assert prompt["result"] == "0" and prompt["callid"] == call_id and prompt["fee"] == "1"
    assert await tencent.reply(TO, "1") == 200
    kind, reply = receiver.received[-1]
    assert kind == "sms_reply" and (reply["mobile"], reply["nationcode"], reply["text"]) == ("13900000001", "86", "1")


async def test_calls_not_answered_or_answered_without_a_key(
    vms: CommonClient, tencent: FakeTencent, receiver: Receiver, clock: FakeClock
) -> None:
    first = (await call(vms))["SendStatus"]["CallId"]
    await tencent.answer(first, key=None)
    assert [k for k, _ in receiver.received] == ["voiceprompt"]
    clock.advance(timedelta(minutes=1))
    second = (await call(vms))["SendStatus"]["CallId"]
    await tencent.no_answer(second)
    assert receiver.received[-1][1]["voiceprompt_callback"]["result"] == "1"


async def test_pushes_twice_out_of_order_or_never(
    sms: SmsClient, tencent: FakeTencent, receiver: Receiver, clock: FakeClock
) -> None:
    first = (await send(sms, [TO])).SendStatusSet[0].SerialNo
    clock.advance(timedelta(minutes=1))
    second = (await send(sms, [TO], template="2480002", TemplateParamSet=["王秀英"])).SendStatusSet[0].SerialNo
    tencent.report(first)
    tencent.report(second, "FAIL")
    late, early = (
        Push("sms_status", tencent.sms_status_payload(first)),
        Push("sms_status", tencent.sms_status_payload(second)),
    )
    await tencent.push(early, times=2)
    await tencent.push(late)
    assert [body[0]["sid"] for _, body in receiver.received] == [second, second, first]
    # Never: a report nobody pushes is still there to pull.
    assert [s.SerialNo for s in await pull(sms, TO, clock.now() - timedelta(hours=1))] == [first, second]


def test_numbers_split_as_tencent_pushes_them() -> None:
    assert split_e164("+8613900000001") == ("86", "13900000001")
    assert split_e164("+85261234567") == ("852", "61234567")
