"""WeCom's callback crypto (WXBizMsgCrypt) on `cryptography`: URL verification, decrypting a callback, encrypting a
reply (CHANNELS.md §1.1).

    msg_signature = sha1 of the sorted [token, timestamp, nonce, encrypt], joined
    encrypt       = base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32 bytes(
                        16 random bytes ‖ 4-byte big-endian length ‖ xml ‖ corp_id)))
    key           = base64decode(EncodingAESKey + "=")

Pure functions of their input and the injected clock: the /wecom/callback route calls `verify_url` on GET and
`decrypt` on POST and answers a `CallbackRefused` with a refusal. The signature is checked before anything is
decrypted, so padding and length errors are never an oracle to someone without the Token. A replay inside the
timestamp window still decrypts: dropping it is the receiver's job (`events.dedupe_key`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from carevisit.care.clock import Clock
from carevisit.wecom import safexml

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16.
RANDOM_PREFIX = 16
LENGTH_FIELD = 4
DEFAULT_MAX_SKEW = timedelta(minutes=5)
# WeCom's largest callbacks (a 2,048-byte text, contact changes) are a few KiB once base64'd; far more is not WeCom.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_ECHOSTR_CHARS = 1024


class Refusal(StrEnum):
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    SIGNATURE = "signature"
    TIMESTAMP = "timestamp"
    PADDING = "padding"
    LENGTH = "length"
    RECEIVE_ID = "receive_id"


class CallbackRefused(Exception):
    """A callback that is not WeCom's, or not now. The message names the reason, never the content."""

    def __init__(self, reason: Refusal, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"WeCom callback refused ({reason.value}){': ' + detail if detail else ''}")


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """WeCom's signature of one callback or reply (sha1, lower-case hex)."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise ValueError("the WeCom EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("the WeCom EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise ValueError("the WeCom EncodingAESKey does not decode to 32 bytes")
    return key


class CallbackCrypto:
    """One WeCom app's callback crypto. ``token`` and ``encoding_aes_key`` are the callback settings of the app,
    ``corp_id`` the receive id every plaintext must end with; ``clock`` judges timestamps."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        *,
        clock: Clock,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if not token or not corp_id:
            raise ValueError("WeCom callbacks need a Token and a corp id")
        self._token = token
        self._key = _aes_key(encoding_aes_key)
        self._receive_id = corp_id.encode()
        self._clock = clock
        self._max_skew = max_skew
        self._max_body_bytes = max_body_bytes
        self._random_bytes = random_bytes

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The plaintext echostr WeCom expects back from the URL check (the query's values, URL-decoded)."""
        if len(echostr) > MAX_ECHOSTR_CHARS:
            raise CallbackRefused(Refusal.TOO_LARGE, "echostr")
        self._authenticate(msg_signature, timestamp, nonce, echostr)
        return self._open(echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, body_xml: str | bytes) -> str:
        """The message XML inside a POSTed callback ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``."""
        body = body_xml.encode() if isinstance(body_xml, str) else body_xml
        if len(body) > self._max_body_bytes:
            raise CallbackRefused(Refusal.TOO_LARGE, f"{len(body)} bytes")
        encrypt = _envelope_encrypt(body)
        self._authenticate(msg_signature, timestamp, nonce, encrypt)
        return self._open(encrypt)

    def encrypt(self, xml: str, nonce: str, timestamp: str | int) -> str:
        """An encrypted reply envelope (Encrypt, MsgSignature, TimeStamp, Nonce), as WeCom's own library makes it."""
        stamp = str(timestamp)
        encrypt = self._seal(xml)
        signature = msg_signature(self._token, stamp, nonce, encrypt)
        # base64 and a hex signature cannot close a CDATA section; the nonce is ours.
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{stamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

    def _authenticate(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = msg_signature(self._token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise CallbackRefused(Refusal.SIGNATURE)
        # Signed, so the timestamp is WeCom's: one far from now is a replay of an old callback.
        try:
            seconds = int(timestamp)
        except ValueError:
            raise CallbackRefused(Refusal.TIMESTAMP, "not a number") from None
        skew = abs(self._clock.now().timestamp() - seconds)
        if skew > self._max_skew.total_seconds():
            raise CallbackRefused(Refusal.TIMESTAMP, f"{skew:.0f} s from the clock")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def _seal(self, xml: str) -> str:
        payload = xml.encode()
        plain = self._random_bytes(RANDOM_PREFIX) + len(payload).to_bytes(LENGTH_FIELD, "big")
        plain += payload + self._receive_id
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def _open(self, encrypt: str) -> str:
        try:
            sealed = base64.b64decode(encrypt, validate=True)
        except binascii.Error:
            raise CallbackRefused(Refusal.MALFORMED, "not base64") from None
        if not sealed or len(sealed) % BLOCK:
            raise CallbackRefused(Refusal.PADDING, "not whole 32-byte blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(sealed) + decryptor.finalize())
        if len(plain) < RANDOM_PREFIX + LENGTH_FIELD:
            raise CallbackRefused(Refusal.LENGTH, "shorter than its header")
        start = RANDOM_PREFIX + LENGTH_FIELD
        end = start + int.from_bytes(plain[RANDOM_PREFIX:start], "big")
        if end > len(plain):
            raise CallbackRefused(Refusal.LENGTH, "longer than the plaintext")
        if not hmac.compare_digest(plain[end:], self._receive_id):
            raise CallbackRefused(Refusal.RECEIVE_ID)
        try:
            return plain[start:end].decode()
        except UnicodeDecodeError:
            raise CallbackRefused(Refusal.MALFORMED, "not UTF-8") from None


def _unpad(padded: bytes) -> bytes:
    pad = padded[-1]
    if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise CallbackRefused(Refusal.PADDING)
    return padded[:-pad]


def _envelope_encrypt(body: bytes) -> str:
    try:
        root = safexml.parse(body)
    except safexml.UnsafeXml as exc:
        raise CallbackRefused(Refusal.MALFORMED, str(exc)) from None
    found = root.findall("Encrypt")
    if root.tag != "xml" or len(found) != 1 or not (found[0].text or "").strip():
        raise CallbackRefused(Refusal.MALFORMED, "no single Encrypt in <xml>")
    return (found[0].text or "").strip()
