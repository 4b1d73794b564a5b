"""One WeCom app's callback settings for the tests, and wechatpy's WXBizMsgCrypt (an independent implementation)
to build what WeCom would send and to check what we send back."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.enterprise.crypto import WeChatCrypto

TOKEN = "QDG6eK7pHQbPr2kS"
# 32 bytes as WeCom shows an EncodingAESKey: base64 without its one "=".
KEY_BYTES = hashlib.sha256(b"carevisit test app").digest()
AES_KEY = base64.b64encode(KEY_BYTES).decode().rstrip("=")
CORP_ID = "ww1d2c3b4a5f6e7d8c"
AGENT_ID = 1000002
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def wechatpy_crypto(*, token: str = TOKEN, corp_id: str = CORP_ID) -> WeChatCrypto:
    return WeChatCrypto(token, AES_KEY, corp_id)


def tag(envelope: str, name: str) -> str:
    """One field of an encrypted envelope, CDATA or not."""
    found = re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", envelope, re.S)
    assert found, f"no <{name}> in the envelope"
    return found.group(1)


def wecom_post_body(encrypt: str) -> str:
    """The body WeCom POSTs to the callback URL."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
    )


def sign(timestamp: str, nonce: str, encrypt: str, *, token: str = TOKEN) -> str:
    """WeCom's msg_signature, written out here rather than taken from the code under test."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def seal_raw(plaintext: bytes) -> str:
    """AES-256-CBC of bytes laid out by the test (no padding added): for plaintexts WeCom would never make."""
    encryptor = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


def pkcs7_32(data: bytes) -> bytes:
    pad = 32 - len(data) % 32
    return data + bytes([pad]) * pad


def layout(xml: bytes, *, receive_id: bytes = CORP_ID.encode(), length: int | None = None) -> bytes:
    """16 random bytes ‖ 4-byte big-endian length ‖ xml ‖ receive id, unpadded."""
    declared = len(xml) if length is None else length
    return b"r" * 16 + declared.to_bytes(4, "big") + xml + receive_id
