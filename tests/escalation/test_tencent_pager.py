"""TencentPager against the fake Tencent server, through the official SDK: what it sends, and how each answer of
Tencent's becomes sent / not processed / may have been processed / never."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from carevisit.care.clock import FakeClock
from carevisit.escalation import tencent_pager
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import CannotTell, NotProcessed, PermanentError, TemporaryError
from carevisit.escalation.pager_templates import PagerTemplates, parse_templates
from carevisit.escalation.tencent_pager import TencentPager
from carevisit.storage.enums import Channel, DeliveryStatus
from tests.escalation.fake_tencent import SECRET_ID, SECRET_KEY, SIGN_NAME, SMS_APP_ID, VOICE_APP_ID, FakeTencent
from tests.ports import free_port

TO = "+8613900000001"
PARAMS = {"name": "王秀英", "what": "跌倒", "volunteer": "张伟", "volunteer_phone": "13800000009", "code": "123456"}
EMERGENCY = Notice("family_emergency", PARAMS | {"time": "10:00", "round": "1"}, "ignored by Tencent")
CALL = VoiceScript("family_emergency", PARAMS)


def tencent_templates() -> PagerTemplates:
    """The approved templates the fake knows (fake_tencent.SMS_TEMPLATES / VOICE_TEMPLATES)."""
    return parse_templates(
        {
            "tencent": {
                "sms": {
                    "family_emergency": {"template": "2480001", "params": ["name", "what", "volunteer", "code"]},
                    "family_emergency_repeat": {"template": "2480003", "params": ["round", "name", "code"]},
                    "all_clear": {"template": "2480002", "params": ["name"]},
                },
                "voice": {"family_emergency": {"template": "2580001", "params": ["name", "what", "volunteer"]}},
            }
        }
    )


def make_pager(endpoint: str, clock: FakeClock, *, timeout: float = 5.0, **overrides: str) -> TencentPager:
    options = {
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "sms_app_id": SMS_APP_ID,
        "voice_app_id": VOICE_APP_ID,
        "sign_name": SIGN_NAME,
    } | overrides
    return TencentPager(
        **options,
        templates=tencent_templates(),
        sms_endpoint=endpoint,
        voice_endpoint=endpoint,
        timeout=timeout,
        clock=clock,
    )


@pytest.fixture
async def tencent(clock: FakeClock) -> AsyncIterator[FakeTencent]:
    fake = FakeTencent(clock)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def pager(tencent: FakeTencent, clock: FakeClock) -> AsyncIterator[TencentPager]:
    made = make_pager(f"http://{tencent.endpoint}", clock)
    yield made
    await made.close()


def ref(row: int) -> Callbacks:
    return Callbacks(reference=str(row))


def test_the_sdk_is_installed_with_the_extra() -> None:
    assert tencent_pager.available()


async def test_an_sms_is_its_template_with_our_reference(pager: TencentPager, tencent: FakeTencent) -> None:
    sent = await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(41))
    assert sent.status == DeliveryStatus.SENT
    sms = tencent.get_sms(sent.sid)
    assert (sms.to, sms.template_id, sms.params) == (TO, "2480001", ["王秀英", "跌倒", "张伟", "123456"])
    assert sms.session_context == "41"


async def test_a_repeat_uses_its_own_template(pager: TencentPager, tencent: FakeTencent) -> None:
    repeat = Notice("family_emergency_repeat", PARAMS | {"round": "2"})
    assert tencent.get_sms((await pager.send_sms(to=TO, notice=repeat, callbacks=ref(2))).sid).template_id == "2480003"


async def test_a_kind_without_a_template_or_a_variable_is_permanent(pager: TencentPager, tencent: FakeTencent) -> None:
    with pytest.raises(PermanentError) as caught:
        await pager.send_sms(to=TO, notice=Notice("visit_report", PARAMS), callbacks=ref(1))
    assert caught.value.code == "no_template"
    with pytest.raises(PermanentError) as caught:
        await pager.send_sms(to=TO, notice=Notice("all_clear", {}), callbacks=ref(1))
    assert caught.value.code == "template_params"  # checked against the template's rules before any request
    assert "name" in str(caught.value)
    assert tencent.requests == []


async def test_a_per_number_limit_is_permanent_limit(pager: TencentPager, tencent: FakeTencent) -> None:
    await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    with pytest.raises(PermanentError) as caught:
        await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(2))
    assert caught.value.code == "limit"
    assert tencent.refusals == ["LimitExceeded.PhoneNumberThirtySecondLimit"]


async def test_other_per_number_codes_are_permanent_and_fit_the_outbox(pager: TencentPager) -> None:
    with pytest.raises(PermanentError) as caught:
        await pager.send_sms(to="13900000001", notice=EMERGENCY, callbacks=ref(1))
    assert caught.value.code == "IncorrectPhoneNumber"


async def test_refusals_of_the_request_are_permanent(tencent: FakeTencent, clock: FakeClock) -> None:
    pager = make_pager(f"http://{tencent.endpoint}", clock, sign_name="未审核的签名")
    try:
        with pytest.raises(PermanentError) as caught:
            await pager.send_sms(to=TO, notice=Notice("all_clear", {"name": "王秀英"}), callbacks=ref(1))
        assert caught.value.code == "SignatureIncorrectOrUnapproved"
    finally:
        await pager.close()


async def test_a_link_in_a_variable_is_refused_before_any_request(tencent: FakeTencent, clock: FakeClock) -> None:
    # Tencent refuses it too (ProhibitedUseUrlInTemplateParameter, test_fake_tencent); we never ask.
    pager = make_pager(f"http://{tencent.endpoint}", clock)
    try:
        with pytest.raises(PermanentError) as caught:
            await pager.send_sms(
                to=TO, notice=Notice("all_clear", {"name": "见 https://evil.example.cn"}), callbacks=ref(1)
            )
        assert caught.value.code == "template_params" and "evil" not in str(caught.value)
        assert tencent.requests == []
    finally:
        await pager.close()


async def test_an_empty_answer_may_have_sent_and_is_never_sent(pager: TencentPager, tencent: FakeTencent) -> None:
    # Corrections #2: under a charset the SDK does not raise on Response.Error, it returns an empty model. Here
    # Tencent sent, then answered an internal error.
    tencent.charset = True
    tencent.error_next("InternalError", process=True)
    with pytest.raises(TemporaryError) as caught:
        await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    assert caught.value.code == "empty_answer"
    assert len(tencent.sms_to(TO)) == 1  # it was sent: the outbox must reconcile, not resend blindly


async def test_network_and_server_failures(pager: TencentPager, tencent: FakeTencent, clock: FakeClock) -> None:
    tencent.fail_next(502)
    with pytest.raises(TemporaryError):
        await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    tencent.fail_next(0, process=True)
    with pytest.raises(TemporaryError) as caught:
        await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    assert caught.value.code == "network"
    tencent.error_next("RequestLimitExceeded", "too many requests")
    with pytest.raises(NotProcessed):
        await pager.send_sms(to="+8613900000002", notice=EMERGENCY, callbacks=ref(2))
    tencent.error_next("InternalError.Timeout")
    with pytest.raises(TemporaryError):
        await pager.send_sms(to="+8613900000002", notice=EMERGENCY, callbacks=ref(2))
    impatient = make_pager(f"http://{tencent.endpoint}", clock, timeout=0.3)
    tencent.hang_next(1.0)
    try:
        with pytest.raises(TemporaryError) as caught:
            await impatient.send_sms(to="+8613900000003", notice=EMERGENCY, callbacks=ref(3))
        assert caught.value.code == "timeout"
    finally:
        await impatient.close()


async def test_a_refused_connection_was_not_processed(clock: FakeClock) -> None:
    pager = make_pager(f"http://127.0.0.1:{free_port()}", clock)
    try:
        with pytest.raises(NotProcessed) as caught:
            await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
        assert caught.value.code == "connect"
    finally:
        await pager.close()


async def test_wrong_keys_are_permanent_and_logged_loudly(
    tencent: FakeTencent, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    pager = make_pager(f"http://{tencent.endpoint}", clock, secret_key="not-the-key")
    try:
        with caplog.at_level(logging.ERROR), pytest.raises(PermanentError) as caught:
            await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    finally:
        await pager.close()
    assert caught.value.code == "AuthFailure.SignatureFailure"
    assert any(r.levelno == logging.ERROR and "AuthFailure" in r.getMessage() for r in caplog.records)
    assert all("13900000001" not in r.getMessage() for r in caplog.records)


async def test_a_call_says_its_template_twice_with_our_reference(pager: TencentPager, tencent: FakeTencent) -> None:
    sent = await pager.place_call(to=TO, script=CALL, callbacks=ref(9))
    call = tencent.get_call(sent.sid)
    assert (call.to, call.template_id, call.params, call.play_times, call.session_context) == (
        TO,
        "2580001",
        ["王秀英", "跌倒", "张伟"],
        2,
        "9",
    )


async def test_call_refusals(pager: TencentPager, tencent: FakeTencent) -> None:
    await pager.place_call(to=TO, script=CALL, callbacks=ref(1))
    with pytest.raises(PermanentError) as caught:
        await pager.place_call(to=TO, script=CALL, callbacks=ref(2))
    assert caught.value.code == "limit"
    with pytest.raises(PermanentError) as caught:
        await pager.place_call(to=TO, script=VoiceScript("drill", PARAMS), callbacks=ref(3))
    assert caught.value.code == "no_template"
    # With a charset the SDK does not raise: the adapter reads the error itself.
    tencent.charset = True
    with pytest.raises(PermanentError) as caught:
        await pager.place_call(to=TO, script=CALL, callbacks=ref(4))
    assert caught.value.code == "limit"
    tencent.fail_next(503, service="vms")
    with pytest.raises(TemporaryError):
        await pager.place_call(to="+8613900000002", script=CALL, callbacks=ref(5))


async def test_lookup_cannot_tell_and_find_recent_pulls_by_number(
    pager: TencentPager, tencent: FakeTencent, clock: FakeClock
) -> None:
    since = clock.now() - timedelta(minutes=2)
    sent = await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(41))
    with pytest.raises(CannotTell):
        await pager.lookup(channel=Channel.SMS, sid=sent.sid)
    assert await pager.find_recent(channel=Channel.SMS, to=TO, since=since) == []  # no receipt yet
    clock.advance(timedelta(seconds=10))
    [record] = await pager.find_recent(channel=Channel.SMS, to=TO, since=since)
    assert (record.sid, record.reference, record.status, record.to) == (sent.sid, "41", DeliveryStatus.DELIVERED, TO)
    assert record.created_at is not None and record.created_at >= since
    call = await pager.place_call(to=TO, script=CALL, callbacks=ref(42))
    with pytest.raises(CannotTell):
        await pager.lookup(channel=Channel.VOICE, sid=call.sid)
    assert await pager.find_recent(channel=Channel.VOICE, to=TO, since=since) == []
    tencent.fail_next(500)
    with pytest.raises(TemporaryError):
        await pager.find_recent(channel=Channel.SMS, to=TO, since=since)


async def test_pushes_become_signals(pager: TencentPager, tencent: FakeTencent, clock: FakeClock) -> None:
    sms = await pager.send_sms(to=TO, notice=EMERGENCY, callbacks=ref(1))
    tencent.report(sms.sid, "FAIL", errmsg="MK:0005")
    [failed] = pager.parse_push("sms_status", json.dumps(tencent.sms_status_payload(sms.sid)).encode())
    assert (failed.kind, failed.to, failed.sid, failed.status, failed.error_code) == (
        "status",
        TO,
        sms.sid,
        DeliveryStatus.UNDELIVERED,
        "MK:0005",
    )
    assert failed.at == clock.now().replace(microsecond=0)
    call = await pager.place_call(to=TO, script=CALL, callbacks=ref(2))
    [key] = pager.parse_push("voicekey", json.dumps(tencent.voicekey_payload(call.sid, "1")).encode())
    assert (key.kind, key.sid, key.key, key.to, key.evidence) == (
        "key",
        call.sid,
        "1",
        TO,
        {"call_id": call.sid, "key": "1"},
    )
    for result, status in (
        ("0", DeliveryStatus.COMPLETED),
        ("1", DeliveryStatus.NO_ANSWER),
        ("2", DeliveryStatus.FAILED),
    ):
        body = json.dumps(tencent.voiceprompt_payload(call.sid, result=result)).encode()
        [prompt] = pager.parse_push("voiceprompt", body)
        assert (prompt.kind, prompt.sid, prompt.status, prompt.to) == ("status", call.sid, status, TO)
    [reply] = pager.parse_push("sms_reply", json.dumps(tencent.sms_reply_payload(TO, "1 收到")).encode())
    assert (reply.kind, reply.to, reply.text, reply.sid) == ("reply", TO, "1 收到", None)
    assert all(
        TO not in value and "13900000001" not in value for s in (failed, key, reply) for value in s.evidence.values()
    )
    assert pager.push_answer() == {"result": 0, "errmsg": "OK"}


@pytest.mark.parametrize(
    ("push_type", "body"),
    [
        ("sms_status", b"not json"),
        ("sms_status", b'{"sid": "1"}'),
        ("sms_status", b'[{"sid": "1", "mobile": "139", "report_status": "MAYBE"}]'),
        ("voiceprompt", b'{"voiceprompt_callback": {"result": "7", "callid": "c", "mobile": "139"}}'),
        ("voicekey", b'{"voicekey_callback": {"callid": "c"}}'),
        ("voicekey", b'{"other": {}}'),
        ("sms_reply", b"[]"),
        ("SmsReport", b"[]"),
    ],
)
def test_a_push_that_is_not_tencents_is_refused(pager: TencentPager, push_type: str, body: bytes) -> None:
    with pytest.raises(ValueError):
        pager.parse_push(push_type, body)
