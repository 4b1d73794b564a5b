"""The Aliyun pager against the fake Aliyun (official SDKs, real HTTP): templates used, errors mapped, lookups,
pushes parsed."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from carevisit.care.clock import FakeClock
from carevisit.escalation import aliyun_pager
from carevisit.escalation.aliyun_pager import AliyunPager
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import NotProcessed, PermanentError, TemporaryError
from carevisit.escalation.pager_templates import PagerTemplates, parse_templates
from carevisit.storage.enums import Channel, DeliveryStatus
from tests.escalation.fake_aliyun import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    CHINA,
    IVR_CALL,
    SEND_SMS,
    SHOW_NUMBER,
    SIGN_NAME,
    SINGLE_CALL_BY_TTS,
    FakeAliyun,
    Limits,
    SmsTemplate,
    TtsTemplate,
)
from tests.ports import free_port

TO = "+8613900000001"
NATIONAL = "13900000001"
PARAMS = {"name": "王秀英", "what": "跌倒", "volunteer": "李四", "code": "482913", "time": "10:00", "round": "1"}

TEMPLATES: dict[str, Any] = {
    "aliyun": {
        "sms": {
            "family_emergency": {"template": "SMS_480000001", "params": ["name", "what", "code"]},
            "all_clear": {"template": "SMS_480000002", "params": ["name"], "sign_name": "街道关爱"},
        },
        "voice": {
            "family_emergency": {
                "template": "TTS_300000001",
                "params": ["name", "what"],
                "ack_template": "TTS_300000002",
                "bye_template": "TTS_300000003",
            },
            "drill": {"template": "TTS_300000004", "params": ["name"]},
        },
    }
}


def fake_for(clock: FakeClock, **kwargs: Any) -> FakeAliyun:
    return FakeAliyun(
        clock,
        sms_templates=[
            SmsTemplate("SMS_480000001", "${name}家中${what}，社区已知悉。请到确认页输入${code}"),
            SmsTemplate("SMS_480000002", "${name}家中情况已解除"),
        ],
        tts_templates=[
            TtsTemplate("TTS_300000001", ("name", "what")),
            TtsTemplate("TTS_300000002"),
            TtsTemplate("TTS_300000003"),
            TtsTemplate("TTS_300000004", ("name",)),
        ],
        signs=(SIGN_NAME, "街道关爱"),
        **kwargs,
    )


@pytest.fixture
async def aliyun(clock: FakeClock) -> AsyncIterator[FakeAliyun]:
    fake = fake_for(clock)
    await fake.start()
    yield fake
    await fake.close()


def make_pager(fake: FakeAliyun, clock: FakeClock, **overrides: Any) -> AliyunPager:
    values: dict[str, Any] = {
        "access_key_id": ACCESS_KEY_ID,
        "access_key_secret": ACCESS_KEY_SECRET,
        "sign_name": SIGN_NAME,
        "templates": parse_templates(TEMPLATES),
        "sms_endpoint": fake.endpoint,
        "voice_endpoint": fake.endpoint,
        "called_show_number": SHOW_NUMBER,
        "timeout": 2.0,
        "clock": clock,
    } | overrides
    return AliyunPager(**values)


@pytest.fixture
async def pager(aliyun: FakeAliyun, clock: FakeClock) -> AliyunPager:
    return make_pager(aliyun, clock)


def notice(kind: str = "family_emergency") -> Notice:
    return Notice(kind, PARAMS, "王秀英家中跌倒（Twilio 的文字）")


def script(kind: str = "family_emergency", ack_key: str | None = "1") -> VoiceScript:
    return VoiceScript(kind, PARAMS, "Twilio 的文字", ack_key=ack_key)


REF = Callbacks(reference="41")


# --- sending ---


async def test_an_sms_is_its_approved_template_with_the_kinds_variables(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    sent = await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    [sms] = aliyun.sms_to(NATIONAL)
    assert (sms.template, sms.sign, sms.out_id) == ("SMS_480000001", SIGN_NAME, "41")
    assert sms.params == {"name": "王秀英", "what": "跌倒", "code": "482913"}  # only the template's own variables
    assert sent.status == DeliveryStatus.SENT and sent.sid.startswith(sms.biz_id + "~")
    assert NATIONAL not in sent.sid and len(sent.sid) <= 64  # the sid carries the number sealed, never readable


async def test_a_templates_own_sign_and_a_repeat_falling_back(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    await pager.send_sms(to=TO, notice=notice("all_clear"), callbacks=REF)
    await pager.send_sms(to=TO, notice=notice("family_emergency_repeat"), callbacks=REF)
    assert [(m.sign, m.template) for m in aliyun.sms_to(NATIONAL)] == [
        ("街道关爱", "SMS_480000002"),
        (SIGN_NAME, "SMS_480000001"),
    ]


async def test_a_kind_without_a_template_is_permanent(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    with pytest.raises(PermanentError) as raised:
        await pager.send_sms(to=TO, notice=notice("visit_report"), callbacks=REF)
    assert raised.value.code == "no_template" and aliyun.requests == []


async def test_a_press_1_call_is_an_ivr_call(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    sent = await pager.place_call(to=TO, script=script(), callbacks=REF)
    call = aliyun.call(sent.sid)
    assert call.action == IVR_CALL and call.callee == NATIONAL and call.show_number == SHOW_NUMBER
    assert call.start_code == "TTS_300000001" and call.params == {"name": "王秀英", "what": "跌倒"}
    assert call.menu == [{"Key": "1", "Code": "TTS_300000002"}] and call.bye_code == "TTS_300000003"
    assert (call.play_times, call.timeout_ms, call.out_id) == (2, 10_000, "41")


async def test_a_call_that_listens_for_no_key_is_a_tts_call(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    sent = await pager.place_call(to=TO, script=script("drill", ack_key=None), callbacks=REF)
    assert aliyun.call(sent.sid).action == SINGLE_CALL_BY_TTS and aliyun.call(sent.sid).params == {"name": "王秀英"}


async def test_a_press_1_call_without_an_ack_template_is_refused_here(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    with pytest.raises(PermanentError) as raised:
        await pager.place_call(to=TO, script=script("drill", ack_key="1"), callbacks=REF)
    assert raised.value.code == "no_template" and aliyun.calls == []


# --- errors ---


async def test_the_providers_frequency_limit_is_a_refusal_not_a_retry(clock: FakeClock) -> None:
    fake = fake_for(clock, limits=Limits(sms_per_day=1))
    await fake.start()
    try:
        pager = make_pager(fake, clock)
        await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
        with pytest.raises(PermanentError) as raised:
            await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
        assert raised.value.code == "limit"
        await pager.place_call(to=TO, script=script(), callbacks=REF)
        with pytest.raises(PermanentError) as raised:
            await pager.place_call(to=TO, script=script(), callbacks=REF)  # 1 a minute per callee
        assert raised.value.code == "limit" and len(fake.calls) == 1
    finally:
        await fake.close()


@pytest.mark.parametrize(
    ("to", "code", "asked"),
    [("+447700900123", "not_mainland", False), ("+8612345", "isv.MOBILE_NUMBER_ILLEGAL", True)],
)
async def test_numbers_aliyun_cannot_reach(
    pager: AliyunPager, aliyun: FakeAliyun, to: str, code: str, asked: bool
) -> None:
    with pytest.raises(PermanentError) as raised:
        await pager.send_sms(to=to, notice=notice(), callbacks=REF)
    assert raised.value.code == code and bool(aliyun.requests) == asked


async def test_account_problems_are_logged_as_errors_without_the_number(
    pager: AliyunPager, aliyun: FakeAliyun, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    aliyun.balance_empty = True
    with caplog.at_level(logging.WARNING, logger="carevisit.escalation.aliyun_pager"):
        with pytest.raises(PermanentError) as raised:
            await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
        assert raised.value.code == "isv.AMOUNT_NOT_ENOUGH"
        wrong = make_pager(aliyun, clock, access_key_secret="not-the-secret")
        with pytest.raises(PermanentError) as raised:
            await wrong.place_call(to=TO, script=script(), callbacks=REF)
        assert raised.value.code == "SignatureDoesNotMatch"
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert all(NATIONAL not in r.getMessage() and TO not in r.getMessage() for r in caplog.records)


async def test_a_5xx_is_temporary_and_never_retried_by_the_sdk(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    aliyun.fail_next(503, process=True, action=SEND_SMS)
    with pytest.raises(TemporaryError):
        await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    assert aliyun.requests == [SEND_SMS] and len(aliyun.messages) == 1  # Aliyun acted; no second request


async def test_a_reset_connection_and_a_late_answer_are_temporary(aliyun: FakeAliyun, clock: FakeClock) -> None:
    pager = make_pager(aliyun, clock, timeout=0.3)
    aliyun.drop_next(process=True, action=IVR_CALL)
    with pytest.raises(TemporaryError) as raised:
        await pager.place_call(to=TO, script=script(), callbacks=REF)
    assert raised.value.code == "connection"
    clock.advance(timedelta(minutes=1))
    aliyun.hang_next(1.5, action=SEND_SMS)
    with pytest.raises(TemporaryError) as raised:
        await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    assert raised.value.code == "timeout"
    assert len(aliyun.calls) == 1 and len(aliyun.messages) == 1


async def test_a_refused_connection_is_not_processed(aliyun: FakeAliyun, clock: FakeClock) -> None:
    closed = f"127.0.0.1:{free_port()}"
    pager = make_pager(aliyun, clock, sms_endpoint=closed, voice_endpoint=closed)
    with pytest.raises(NotProcessed):
        await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    with pytest.raises(NotProcessed):
        await pager.place_call(to=TO, script=script(), callbacks=REF)


# --- looking up ---


async def test_an_sms_is_looked_up_by_its_sid_alone(pager: AliyunPager, aliyun: FakeAliyun, clock: FakeClock) -> None:
    sent = await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    record = await pager.lookup(channel=Channel.SMS, sid=sent.sid)
    assert record is not None and (record.to, record.status, record.reference) == (TO, DeliveryStatus.SENT, "41")
    aliyun.sms_report(sent.sid.split("~")[0])
    clock.advance(timedelta(days=1))  # yesterday's message is still found
    record = await pager.lookup(channel=Channel.SMS, sid=sent.sid)
    assert record is not None and record.status == DeliveryStatus.DELIVERED
    never_sent = pager._sms_sid("900000000000009999^0", NATIONAL)
    assert await pager.lookup(channel=Channel.SMS, sid=never_sent) is None
    with pytest.raises(PermanentError):  # a sid that is not one of ours
        await pager.lookup(channel=Channel.SMS, sid=sent.sid.replace("^0~", "^1~"))


async def test_recent_messages_to_a_number_day_by_day(pager: AliyunPager, aliyun: FakeAliyun, clock: FakeClock) -> None:
    clock.set(clock.now().astimezone(CHINA).replace(hour=23, minute=59))
    since = clock.now() - timedelta(minutes=2)
    await pager.send_sms(to=TO, notice=notice(), callbacks=Callbacks(reference="41"))
    clock.advance(timedelta(minutes=2))  # past midnight in China: another SendDate
    await pager.send_sms(to=TO, notice=notice(), callbacks=Callbacks(reference="42"))
    await pager.send_sms(to="+8613900000002", notice=notice(), callbacks=Callbacks(reference="43"))
    records = await pager.find_recent(channel=Channel.SMS, to=TO, since=since)
    assert [(r.reference, r.to, r.status) for r in records] == [("41", TO, DeliveryStatus.SENT), ("42", TO, "sent")]
    assert records[0].created_at is not None and records[0].body and "482913" in records[0].body
    assert NATIONAL not in records[0].sid and len({r.sid for r in records}) == 2
    again = await pager.lookup(channel=Channel.SMS, sid=records[1].sid)  # a reconciled sid can be looked up too
    assert again is not None and again.reference == "42"
    later = await pager.find_recent(channel=Channel.SMS, to=TO, since=clock.now() - timedelta(seconds=30))
    assert [r.reference for r in later] == ["42"]
    assert await pager.find_recent(channel=Channel.VOICE, to=TO, since=since) == []


@pytest.mark.parametrize(
    ("behave", "status"),
    [("presses", DeliveryStatus.COMPLETED), ("answers", DeliveryStatus.COMPLETED), ("no", DeliveryStatus.NO_ANSWER)],
)
async def test_a_call_is_looked_up_once_it_has_ended(
    pager: AliyunPager, aliyun: FakeAliyun, behave: str, status: DeliveryStatus
) -> None:
    {"presses": aliyun.callee_presses, "answers": aliyun.callee_answers, "no": aliyun.callee_does_not_answer}[behave](
        NATIONAL
    )
    sent = await pager.place_call(to=TO, script=script(), callbacks=REF)
    with pytest.raises(TemporaryError) as raised:
        await pager.lookup(channel=Channel.VOICE, sid=sent.sid)
    assert raised.value.code == "no_record_yet"
    aliyun.run_call(sent.sid)
    record = await pager.lookup(channel=Channel.VOICE, sid=sent.sid)
    assert record is not None and (record.sid, record.channel, record.to, record.status) == (
        sent.sid,
        Channel.VOICE,
        TO,
        status,
    )


async def test_yesterdays_tts_call_is_found(pager: AliyunPager, aliyun: FakeAliyun, clock: FakeClock) -> None:
    aliyun.callee_answers(NATIONAL)
    sent = await pager.place_call(to=TO, script=script("drill", ack_key=None), callbacks=REF)
    aliyun.run_call(sent.sid)
    clock.advance(timedelta(days=1))
    record = await pager.lookup(channel=Channel.VOICE, sid=sent.sid)
    assert record is not None and record.status == DeliveryStatus.COMPLETED


# --- pushes ---


def body(items: list[dict[str, Any]]) -> bytes:
    return json.dumps(items, ensure_ascii=False).encode()


async def test_a_receipt_names_the_sid_the_send_returned(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    sent = await pager.send_sms(to=TO, notice=notice(), callbacks=REF)
    biz_id = sent.sid.split("~")[0]
    [signal] = pager.parse_push("SmsReport", body([aliyun.sms_report(biz_id)]))
    assert (signal.kind, signal.to, signal.sid, signal.reference) == ("status", TO, sent.sid, "41")
    assert signal.status == DeliveryStatus.DELIVERED and signal.error_code is None and signal.at is not None
    [failed] = pager.parse_push("SmsReport", body([aliyun.sms_report(biz_id, success=False, err_code="MK:0005")]))
    assert (failed.status, failed.error_code) == (DeliveryStatus.UNDELIVERED, "MK:0005")


async def test_a_pressed_key_is_a_status_and_a_key(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    aliyun.callee_presses(NATIONAL, "1")
    sent = await pager.place_call(to=TO, script=script(), callbacks=REF)
    [(kind, report), (final_kind, final)] = aliyun.run_call(sent.sid)
    assert kind == "VoiceCallReport" and final_kind == "VoiceReport"
    status, key = pager.parse_push(kind, body([report]))
    assert (status.kind, status.sid, status.status, status.reference) == ("status", sent.sid, "in_progress", "41")
    assert (key.kind, key.sid, key.key, key.evidence) == ("key", sent.sid, "1", {"call_id": sent.sid, "dtmf": "1"})
    assert status.to == ""  # VoiceCallReport names no callee: the call id says which call, the query API to whom
    status, key = pager.parse_push(final_kind, body([final]))
    assert (status.status, status.to, key.key) == (DeliveryStatus.COMPLETED, TO, "1")


async def test_an_unanswered_call_and_a_reply(pager: AliyunPager, aliyun: FakeAliyun) -> None:
    aliyun.callee_does_not_answer(NATIONAL)
    sent = await pager.place_call(to=TO, script=script(), callbacks=REF)
    [(kind, final)] = aliyun.run_call(sent.sid)
    [status] = pager.parse_push(kind, body([final]))
    assert (status.status, status.error_code, status.to) == (DeliveryStatus.NO_ANSWER, "200003", TO)
    [reply] = pager.parse_push("SmsUp", body([aliyun.sms_up(NATIONAL, "收到 1")]))
    assert (reply.kind, reply.to, reply.text) == ("reply", TO, "收到 1") and reply.at is not None
    assert pager.push_answer() == {"code": 0, "msg": "成功"}


@pytest.mark.parametrize(
    ("push_type", "raw"),
    [
        ("SmsReport", b"not json"),
        ("SmsReport", b'{"biz_id": "1"}'),
        ("SmsReport", b'[{"biz_id": "1^0", "success": true}]'),
        ("SmsReport", body([{"phone_number": "12345", "success": True, "biz_id": "1^0"}])),
        ("SmsUp", body([{"content": "1"}])),
        ("VoiceCallReport", body([{"status_code": "300000", "dtmf": "1"}])),
        ("VoiceReport", b"[1, 2]"),
        ("Other", b"[]"),
    ],
)
def test_a_malformed_push_is_a_value_error(pager: AliyunPager, push_type: str, raw: bytes) -> None:
    with pytest.raises(ValueError):
        pager.parse_push(push_type, raw)


def test_the_sdks_are_installed_here() -> None:
    assert aliyun_pager.available() and AliyunPager.push_types == (
        "SmsReport",
        "SmsUp",
        "VoiceCallReport",
        "VoiceReport",
    )
    assert isinstance(parse_templates({}), PagerTemplates)


def test_without_the_sdks_the_pager_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def hidden(name: str, *args: Any) -> Any:
        return None if name.startswith("alibabacloud_") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", hidden)
    assert not aliyun_pager.available()
    with pytest.raises(RuntimeError, match=r"pip install 'carevisit\[aliyun\]'"):
        AliyunPager(access_key_id="k", access_key_secret="s", sign_name="x", templates=PagerTemplates())
