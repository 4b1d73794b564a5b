"""The callback crypto against wechatpy's WXBizMsgCrypt both ways, and every refusal: a forged signature, another
corp's callback, a tampered plaintext, a replay from outside the clock's window, an oversized or hostile body."""

from __future__ import annotations

from datetime import timedelta

import pytest
from wechatpy.exceptions import InvalidSignatureException

from carevisit.care.clock import FakeClock
from carevisit.wecom.crypto import CallbackCrypto, CallbackRefused, Refusal
from tests.wecom.wecom_keys import (
    AES_KEY,
    CORP_ID,
    START,
    TOKEN,
    layout,
    pkcs7_32,
    seal_raw,
    sign,
    tag,
    wechatpy_crypto,
    wecom_post_body,
)

# A tap on an incident card, as WeCom sends it; the Chinese makes byte length and character length differ.
CARD_TAP = (
    "<xml><ToUserName><![CDATA[ww1d2c3b4a5f6e7d8c]]></ToUserName><FromUserName><![CDATA[WangFang]]></FromUserName>"
    "<CreateTime>1764581400</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[ack:incident-41]]></EventKey>"
    "<TaskId><![CDATA[incident-41-c7]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
    "<ResponseCode><![CDATA[rc-已确认-9f2]]></ResponseCode><AgentID>1000002</AgentID></xml>"
)
NONCE = "1372623149"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def ours(clock: FakeClock) -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, CORP_ID, clock=clock)


def now_stamp(clock: FakeClock) -> str:
    return str(int(clock.now().timestamp()))


def wecom_callback(clock: FakeClock, xml: str = CARD_TAP, *, corp_id: str = CORP_ID) -> tuple[str, str, str]:
    """(msg_signature, timestamp, body) of a callback encrypted by wechatpy, as WeCom would POST it now."""
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto(corp_id=corp_id).encrypt_message(xml, NONCE, timestamp)
    return tag(envelope, "MsgSignature"), timestamp, wecom_post_body(tag(envelope, "Encrypt"))


def signed_body(clock: FakeClock, encrypt: str) -> tuple[str, str, str]:
    timestamp = now_stamp(clock)
    return sign(timestamp, NONCE, encrypt), timestamp, wecom_post_body(encrypt)


def refusal(call: object) -> Refusal:
    assert callable(call)
    with pytest.raises(CallbackRefused) as refused:
        call()
    return refused.value.reason


# --- against wechatpy, both ways ---


def test_wechatpy_decrypts_what_we_encrypt(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = ours.encrypt(CARD_TAP, NONCE, timestamp)
    # wechatpy checks our MsgSignature before it decrypts, and our receive id after.
    plain = wechatpy_crypto().decrypt_message(envelope, tag(envelope, "MsgSignature"), timestamp, NONCE)
    assert plain == CARD_TAP
    assert tag(envelope, "TimeStamp") == timestamp
    assert tag(envelope, "Nonce") == NONCE


def test_wechatpy_refuses_our_envelope_under_another_token(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = ours.encrypt(CARD_TAP, NONCE, timestamp)
    with pytest.raises(InvalidSignatureException):
        wechatpy_crypto(token="another-token").decrypt_message(
            envelope, tag(envelope, "MsgSignature"), timestamp, NONCE
        )


def test_we_decrypt_what_wechatpy_encrypts(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock)
    assert ours.decrypt(signature, timestamp, NONCE, body) == CARD_TAP


def test_we_decrypt_wechatpys_own_envelope_and_bytes(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto().encrypt_message(CARD_TAP, NONCE, timestamp)
    signature = tag(envelope, "MsgSignature")
    assert ours.decrypt(signature, timestamp, NONCE, envelope) == CARD_TAP
    assert ours.decrypt(signature, timestamp, NONCE, envelope.encode()) == CARD_TAP


def test_a_long_message_crosses_many_blocks_both_ways(ours: CallbackCrypto, clock: FakeClock) -> None:
    xml = "<xml><MsgType>text</MsgType><Content>" + "探访" * 700 + "</Content></xml>"
    signature, timestamp, body = wecom_callback(clock, xml)
    assert ours.decrypt(signature, timestamp, NONCE, body) == xml
    envelope = ours.encrypt(xml, NONCE, timestamp)
    assert wechatpy_crypto().decrypt_message(envelope, tag(envelope, "MsgSignature"), timestamp, NONCE) == xml


def test_url_verification_returns_wechatpys_echostr_plaintext(ours: CallbackCrypto, clock: FakeClock) -> None:
    # WeCom's echostr is an encrypted random string signed like a message's Encrypt.
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto().encrypt_message("5927782489442352469", NONCE, timestamp)
    echostr, signature = tag(envelope, "Encrypt"), tag(envelope, "MsgSignature")
    assert ours.verify_url(signature, timestamp, NONCE, echostr) == "5927782489442352469"
    assert wechatpy_crypto().check_signature(signature, timestamp, NONCE, echostr) == "5927782489442352469"


def test_url_verification_with_a_forged_signature_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    echostr = tag(wechatpy_crypto().encrypt_message("5927782489442352469", NONCE, timestamp), "Encrypt")
    forged = sign(timestamp, NONCE, echostr, token="guessed-token")
    assert refusal(lambda: ours.verify_url(forged, timestamp, NONCE, echostr)) is Refusal.SIGNATURE


def test_a_replay_inside_the_window_decrypts_so_the_receiver_must_drop_it(
    ours: CallbackCrypto, clock: FakeClock
) -> None:
    signature, timestamp, body = wecom_callback(clock)
    clock.advance(timedelta(seconds=15))  # WeCom's own retry after 5 s without an answer looks exactly like this
    assert ours.decrypt(signature, timestamp, NONCE, body) == ours.decrypt(signature, timestamp, NONCE, body)


# --- signatures ---


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"), id="one-digit-changed"),
        pytest.param(lambda s: s.upper(), id="upper-case"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s + "00", id="longer"),
        pytest.param(lambda s: "签名" * 20, id="not-ascii"),
    ],
)
def test_a_wrong_signature_is_refused(ours: CallbackCrypto, clock: FakeClock, mangle: object) -> None:
    assert callable(mangle)
    signature, timestamp, body = wecom_callback(clock)
    assert refusal(lambda: ours.decrypt(mangle(signature), timestamp, NONCE, body)) is Refusal.SIGNATURE


def test_a_signature_over_another_nonce_or_timestamp_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock)
    assert refusal(lambda: ours.decrypt(signature, timestamp, "other-nonce", body)) is Refusal.SIGNATURE
    later = str(int(timestamp) + 1)
    assert refusal(lambda: ours.decrypt(signature, later, NONCE, body)) is Refusal.SIGNATURE


def test_a_callback_signed_with_another_token_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto(token="another-apps-token").encrypt_message(CARD_TAP, NONCE, timestamp)
    body = wecom_post_body(tag(envelope, "Encrypt"))
    assert refusal(lambda: ours.decrypt(tag(envelope, "MsgSignature"), timestamp, NONCE, body)) is Refusal.SIGNATURE


# --- the receive id ---


def test_another_corps_callback_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    # Same Token and key (an operator reusing them), another corp id: the plaintext does not end with ours.
    signature, timestamp, body = wecom_callback(clock, corp_id="ww0000000000000000")
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.RECEIVE_ID


def test_a_receive_id_that_only_starts_with_ours_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    encrypt = seal_raw(pkcs7_32(layout(b"<xml/>", receive_id=CORP_ID.encode() + b"x")))
    signature, timestamp, body = signed_body(clock, encrypt)
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.RECEIVE_ID


def test_an_echostr_of_another_corp_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto(corp_id="ww0000000000000000").encrypt_message("8341", NONCE, timestamp)
    echostr, signature = tag(envelope, "Encrypt"), tag(envelope, "MsgSignature")
    assert refusal(lambda: ours.verify_url(signature, timestamp, NONCE, echostr)) is Refusal.RECEIVE_ID


# --- padding and length, signed correctly, so only the plaintext is wrong ---


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(layout(b"<xml/>").ljust(63, b"x") + b"\x00", id="pad-byte-zero"),
        pytest.param(layout(b"<xml/>").ljust(63, b"x") + b"\x21", id="pad-byte-over-32"),
        pytest.param(layout(b"<xml/>").ljust(61, b"x") + b"\x04\x03\x04", id="pad-bytes-differ"),
    ],
)
def test_bad_padding_is_refused(ours: CallbackCrypto, clock: FakeClock, plaintext: bytes) -> None:
    assert len(plaintext) == 64
    signature, timestamp, body = signed_body(clock, seal_raw(plaintext))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.PADDING


def test_a_ciphertext_of_half_a_block_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    # 48 bytes: whole AES blocks, but not whole WeCom (32-byte) blocks.
    signature, timestamp, body = signed_body(clock, seal_raw(b"\x10" * 48))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.PADDING


def test_a_length_beyond_the_plaintext_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    plaintext = pkcs7_32(layout(b"<xml/>", length=10_000))
    signature, timestamp, body = signed_body(clock, seal_raw(plaintext))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.LENGTH


def test_a_length_that_eats_the_receive_id_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    # One byte too long: what is left after the message is no longer the corp id.
    plaintext = pkcs7_32(layout(b"<xml/>", length=len(b"<xml/>") + 1))
    signature, timestamp, body = signed_body(clock, seal_raw(plaintext))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.RECEIVE_ID


def test_a_plaintext_shorter_than_its_header_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = signed_body(clock, seal_raw(pkcs7_32(b"r" * 18)))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.LENGTH


def test_a_message_that_is_not_utf8_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = signed_body(clock, seal_raw(pkcs7_32(layout(b"<xml>\xff\xfe</xml>"))))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.MALFORMED


def test_a_correctly_laid_out_raw_plaintext_decrypts(ours: CallbackCrypto, clock: FakeClock) -> None:
    """The raw helpers above make WeCom's layout; without a fault they are accepted, so each refusal is its fault."""
    signature, timestamp, body = signed_body(clock, seal_raw(pkcs7_32(layout(b"<xml/>"))))
    assert ours.decrypt(signature, timestamp, NONCE, body) == "<xml/>"


# --- the clock ---


def test_a_callback_five_minutes_old_is_accepted(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock)
    clock.advance(timedelta(minutes=5))
    assert ours.decrypt(signature, timestamp, NONCE, body) == CARD_TAP


def test_a_callback_replayed_after_the_window_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock)
    clock.advance(timedelta(minutes=5, seconds=1))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.TIMESTAMP


def test_a_callback_from_the_future_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock)
    clock.advance(timedelta(minutes=-6))
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.TIMESTAMP


def test_an_old_url_verification_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    envelope = wechatpy_crypto().encrypt_message("8341", NONCE, timestamp)
    clock.advance(timedelta(hours=1))
    call = lambda: ours.verify_url(tag(envelope, "MsgSignature"), timestamp, NONCE, tag(envelope, "Encrypt"))  # noqa: E731
    assert refusal(call) is Refusal.TIMESTAMP


def test_a_signed_timestamp_that_is_not_a_number_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    envelope = wechatpy_crypto().encrypt_message(CARD_TAP, NONCE, "yesterday")
    body = wecom_post_body(tag(envelope, "Encrypt"))
    assert refusal(lambda: ours.decrypt(tag(envelope, "MsgSignature"), "yesterday", NONCE, body)) is Refusal.TIMESTAMP


def test_the_window_is_a_setting(clock: FakeClock) -> None:
    strict = CallbackCrypto(TOKEN, AES_KEY, CORP_ID, clock=clock, max_skew=timedelta(seconds=30))
    signature, timestamp, body = wecom_callback(clock)
    clock.advance(timedelta(seconds=31))
    assert refusal(lambda: strict.decrypt(signature, timestamp, NONCE, body)) is Refusal.TIMESTAMP


# --- size and hostile XML, refused before any signature is computed over them ---


def test_a_genuine_but_oversized_callback_is_refused(clock: FakeClock) -> None:
    small = CallbackCrypto(TOKEN, AES_KEY, CORP_ID, clock=clock, max_body_bytes=4096)
    xml = "<xml><Content>" + "x" * 4096 + "</Content></xml>"
    signature, timestamp, body = wecom_callback(clock, xml)
    assert refusal(lambda: small.decrypt(signature, timestamp, NONCE, body)) is Refusal.TOO_LARGE


def test_the_default_limit_refuses_a_megabyte(ours: CallbackCrypto, clock: FakeClock) -> None:
    body = "<xml><Encrypt>" + "A" * 1_000_000 + "</Encrypt></xml>"
    assert refusal(lambda: ours.decrypt("0" * 40, now_stamp(clock), NONCE, body)) is Refusal.TOO_LARGE


def test_an_oversized_echostr_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    echostr = "A" * 2048
    timestamp = now_stamp(clock)
    signature = sign(timestamp, NONCE, echostr)
    assert refusal(lambda: ours.verify_url(signature, timestamp, NONCE, echostr)) is Refusal.TOO_LARGE


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><Encrypt>&i;</Encrypt></xml>"
)
EXTERNAL_ENTITY = '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(EXTERNAL_ENTITY, id="external-entity"),
        pytest.param("<xml><Encrypt>&e;</Encrypt></xml>", id="undeclared-entity"),
        pytest.param("<xml><Encrypt>abc", id="not-well-formed"),
        pytest.param("", id="empty"),
        pytest.param("<xml><ToUserName>ww1</ToUserName></xml>", id="no-encrypt"),
        pytest.param("<xml><Encrypt>YQ==</Encrypt><Encrypt>Yg==</Encrypt></xml>", id="two-encrypts"),
        pytest.param("<other><Encrypt>YQ==</Encrypt></other>", id="not-xml-root"),
        pytest.param("<xml><Encrypt>  </Encrypt></xml>", id="blank-encrypt"),
    ],
)
def test_a_hostile_or_broken_envelope_is_refused(ours: CallbackCrypto, clock: FakeClock, body: str) -> None:
    assert refusal(lambda: ours.decrypt("0" * 40, now_stamp(clock), NONCE, body)) is Refusal.MALFORMED


def test_a_signed_encrypt_that_is_not_base64_is_refused(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = signed_body(clock, "not*base64!")
    assert refusal(lambda: ours.decrypt(signature, timestamp, NONCE, body)) is Refusal.MALFORMED


def test_a_refusal_names_its_reason_and_nothing_of_the_content(ours: CallbackCrypto, clock: FakeClock) -> None:
    signature, timestamp, body = wecom_callback(clock, corp_id="ww0000000000000000")
    with pytest.raises(CallbackRefused) as refused:
        ours.decrypt(signature, timestamp, NONCE, body)
    assert "receive_id" in str(refused.value)
    assert "WangFang" not in str(refused.value)


# --- settings ---


@pytest.mark.parametrize(
    "aes_key",
    [
        pytest.param(AES_KEY[:-1], id="42-characters"),
        pytest.param(AES_KEY + "A", id="44-characters"),
        pytest.param("*" * 43, id="not-base64"),
    ],
)
def test_a_malformed_encoding_aes_key_fails_at_start(clock: FakeClock, aes_key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        CallbackCrypto(TOKEN, aes_key, CORP_ID, clock=clock)


def test_a_missing_token_or_corp_id_fails_at_start(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        CallbackCrypto("", AES_KEY, CORP_ID, clock=clock)
    with pytest.raises(ValueError):
        CallbackCrypto(TOKEN, AES_KEY, "", clock=clock)


def test_the_random_prefix_makes_each_encryption_different(ours: CallbackCrypto, clock: FakeClock) -> None:
    timestamp = now_stamp(clock)
    first, second = ours.encrypt(CARD_TAP, NONCE, timestamp), ours.encrypt(CARD_TAP, NONCE, timestamp)
    assert tag(first, "Encrypt") != tag(second, "Encrypt")
