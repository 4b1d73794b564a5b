"""The decrypted callbacks WeCom sends (shapes from WeCom's docs 90240/90239 as CHANNELS.md §1.1 lists their
fields), as typed events, and the keys that drop WeCom's retries and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carevisit.care.clock import FakeClock
from carevisit.wecom.crypto import CallbackCrypto, CallbackRefused, Refusal
from carevisit.wecom.events import (
    SelectedItem,
    TemplateCardEvent,
    TextMessage,
    Unknown,
    dedupe_key,
    parse_event,
)
from tests.wecom.wecom_keys import AES_KEY, AGENT_ID, CORP_ID, START, TOKEN, tag, wechatpy_crypto, wecom_post_body


def card_tap(
    *, userid: str = "WangFang", create_time: int = 1764581400, key: str = "ack:41", task_id: str = "incident-41-c7"
) -> str:
    # As WeCom sends it: one element a line, CDATA for strings.
    return f"""<xml>
<ToUserName><![CDATA[{CORP_ID}]]></ToUserName>
<FromUserName><![CDATA[{userid}]]></FromUserName>
<CreateTime>{create_time}</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[template_card_event]]></Event>
<EventKey><![CDATA[{key}]]></EventKey>
<TaskId><![CDATA[{task_id}]]></TaskId>
<CardType><![CDATA[button_interaction]]></CardType>
<ResponseCode><![CDATA[REf_Yu9pQm2vT5x]]></ResponseCode>
<AgentID>1000002</AgentID>
</xml>"""


VOTE = f"""<xml>
<ToUserName><![CDATA[{CORP_ID}]]></ToUserName>
<FromUserName><![CDATA[LiQiang]]></FromUserName>
<CreateTime>1764581460</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[template_card_event]]></Event>
<EventKey><![CDATA[submit]]></EventKey>
<TaskId><![CDATA[survey-12]]></TaskId>
<CardType><![CDATA[multiple_interaction]]></CardType>
<ResponseCode><![CDATA[RC-2]]></ResponseCode>
<AgentID>1000002</AgentID>
<SelectedItems>
    <SelectedItem>
        <QuestionKey><![CDATA[mood]]></QuestionKey>
        <OptionIds>
            <OptionId><![CDATA[good]]></OptionId>
        </OptionIds>
    </SelectedItem>
    <SelectedItem>
        <QuestionKey><![CDATA[needs]]></QuestionKey>
        <OptionIds>
            <OptionId><![CDATA[meals]]></OptionId>
            <OptionId><![CDATA[medicine]]></OptionId>
        </OptionIds>
    </SelectedItem>
</SelectedItems>
</xml>"""


def text_message(*, msg_id: str = "7452811397064130603", content: str = "张阿姨今天血压偏高") -> str:
    return f"""<xml>
<ToUserName><![CDATA[{CORP_ID}]]></ToUserName>
<FromUserName><![CDATA[WangFang]]></FromUserName>
<CreateTime>1764581500</CreateTime>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[{content}]]></Content>
<MsgId>{msg_id}</MsgId>
<AgentID>1000002</AgentID>
</xml>"""


ENTER_AGENT = f"""<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[WangFang]]></FromUserName>
<CreateTime>1764581520</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>
<EventKey><![CDATA[]]></EventKey><AgentID>1000002</AgentID></xml>"""

IMAGE = f"""<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[WangFang]]></FromUserName>
<CreateTime>1764581530</CreateTime><MsgType><![CDATA[image]]></MsgType>
<PicUrl><![CDATA[https://wework.qpic.cn/x]]></PicUrl><MediaId><![CDATA[m-1]]></MediaId>
<MsgId>7452811397064130999</MsgId><AgentID>1000002</AgentID></xml>"""


def test_a_button_tap_is_a_template_card_event() -> None:
    assert parse_event(card_tap()) == TemplateCardEvent(
        userid="WangFang",
        event_key="ack:41",
        task_id="incident-41-c7",
        create_time=1764581400,
        response_code="REf_Yu9pQm2vT5x",
        card_type="button_interaction",
        agent_id=1000002,
    )


def test_a_multiple_choice_card_carries_its_selected_items() -> None:
    event = parse_event(VOTE)
    assert isinstance(event, TemplateCardEvent)
    assert event.card_type == "multiple_interaction"
    assert event.selected_items == (
        SelectedItem("mood", ("good",)),
        SelectedItem("needs", ("meals", "medicine")),
    )


def test_a_text_message_keeps_its_words_out_of_its_repr() -> None:
    event = parse_event(text_message())
    assert event == TextMessage(
        msg_id="7452811397064130603",
        userid="WangFang",
        create_time=1764581500,
        content="张阿姨今天血压偏高",
        agent_id=1000002,
    )
    assert "血压" not in repr(event)


def test_an_empty_text_is_still_a_text() -> None:
    event = parse_event(text_message(content=""))
    assert isinstance(event, TextMessage)
    assert event.content == ""


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        pytest.param(
            ENTER_AGENT,
            Unknown("event", "enter_agent", "WangFang", 1764581520, None, "", AGENT_ID),
            id="enter-agent",
        ),
        pytest.param(
            IMAGE,
            Unknown("image", None, "WangFang", 1764581530, "7452811397064130999", None, AGENT_ID),
            id="image",
        ),
        pytest.param(
            card_tap().replace("template_card_event", "template_card_menu_event"),
            Unknown("event", "template_card_menu_event", "WangFang", 1764581400, None, "ack:41", AGENT_ID),
            id="card-menu",
        ),
    ],
)
def test_anything_else_is_unknown(xml: str, expected: Unknown) -> None:
    assert parse_event(xml) == expected


# --- what carevisit cannot act on is refused, not guessed ---


@pytest.mark.parametrize(
    "xml",
    [
        pytest.param(card_tap().replace("<FromUserName><![CDATA[WangFang]]></FromUserName>", ""), id="no-userid"),
        pytest.param(card_tap(userid=""), id="empty-userid"),
        pytest.param(card_tap(key=""), id="no-button-key"),
        pytest.param(card_tap(task_id=""), id="no-task-id"),
        pytest.param(
            card_tap().replace("<CreateTime>1764581400</CreateTime>", "<CreateTime>soon</CreateTime>"), id="time"
        ),
        pytest.param(
            card_tap().replace("</xml>", "<FromUserName><![CDATA[ZhaoLei]]></FromUserName></xml>"), id="two-userids"
        ),
        pytest.param(text_message().replace("<MsgId>7452811397064130603</MsgId>", ""), id="text-without-msgid"),
        pytest.param(text_message().replace("<Content><![CDATA[张阿姨今天血压偏高]]></Content>", ""), id="no-content"),
        pytest.param("<root><MsgType>text</MsgType></root>", id="not-xml-root"),
        pytest.param('<!DOCTYPE xml [<!ENTITY u "WangFang">]><xml><FromUserName>&u;</FromUserName></xml>', id="dtd"),
    ],
)
def test_a_malformed_message_is_refused(xml: str) -> None:
    with pytest.raises(CallbackRefused) as refused:
        parse_event(xml)
    assert refused.value.reason is Refusal.MALFORMED


# --- deduplication ---


def test_a_retried_tap_has_the_same_key() -> None:
    assert dedupe_key(parse_event(card_tap())) == dedupe_key(parse_event(card_tap()))


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(card_tap(create_time=1764581401), id="a-second-later"),
        pytest.param(card_tap(userid="ZhaoLei"), id="another-member"),
        pytest.param(card_tap(key="open:41"), id="another-button"),
        # The same member acknowledging two incidents' cards within one second: two taps.
        pytest.param(card_tap(task_id="incident-42-c7"), id="another-card"),
    ],
)
def test_a_different_tap_has_a_different_key(other: str) -> None:
    assert dedupe_key(parse_event(card_tap())) != dedupe_key(parse_event(other))


def test_the_key_fields_cannot_run_into_each_other() -> None:
    # Joined naively, "a|b" + "c" and "a" + "b|c" would meet.
    first = card_tap(key="ack:4", task_id="1-incident")
    second = card_tap(key="ack:41", task_id="-incident")
    assert dedupe_key(parse_event(first)) != dedupe_key(parse_event(second))


def test_a_message_is_keyed_by_its_msgid() -> None:
    assert dedupe_key(parse_event(text_message())) == "msg:7452811397064130603"
    assert dedupe_key(parse_event(IMAGE)) == "msg:7452811397064130999"
    assert dedupe_key(parse_event(text_message(msg_id="7452811397064130604"))) == "msg:7452811397064130604"


def test_an_unknown_event_is_keyed_like_an_event() -> None:
    key = dedupe_key(parse_event(ENTER_AGENT))
    assert key.startswith("evt:")
    assert key == dedupe_key(parse_event(ENTER_AGENT))
    assert key != dedupe_key(parse_event(ENTER_AGENT.replace("1764581520", "1764581521")))


def test_an_event_key_holds_no_userid_and_stays_short() -> None:
    key = dedupe_key(parse_event(card_tap(key="k" * 1024)))
    assert "WangFang" not in key
    assert len(key) == len("evt:") + 64


# --- from WeCom's encryption to the event ---


def test_an_encrypted_tap_and_its_retry_decrypt_to_one_key() -> None:
    clock = FakeClock(START)
    ours = CallbackCrypto(TOKEN, AES_KEY, CORP_ID, clock=clock)
    timestamp, nonce = str(int(clock.now().timestamp())), "99183"
    envelope = wechatpy_crypto().encrypt_message(card_tap(), nonce, timestamp)
    body = wecom_post_body(tag(envelope, "Encrypt"))

    first = parse_event(ours.decrypt(tag(envelope, "MsgSignature"), timestamp, nonce, body))
    clock.advance(timedelta(seconds=5))  # no answer within 5 s: WeCom sends the same callback again
    retry = parse_event(ours.decrypt(tag(envelope, "MsgSignature"), timestamp, nonce, body))

    assert isinstance(first, TemplateCardEvent)
    assert (first.userid, first.event_key, first.task_id) == ("WangFang", "ack:41", "incident-41-c7")
    assert dedupe_key(retry) == dedupe_key(first)
