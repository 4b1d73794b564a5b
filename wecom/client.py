"""A thin async client of the operator's WeCom self-built app (qyapi.weixin.qq.com, CHANNELS.md §1.1).

The access token is cached until `expires_in` minus a margin, fetched by one caller at a time (a lock: gettoken
is frequency-limited, 45009), and fetched again once when WeCom refuses it (40014 invalid, 42001 expired — WeCom
may revoke a token early); the request is then retried once with the new token.

**Pacing is the caller's job.** WeCom accepts more than 30 messages a minute (or 1,000 an hour) to one member
from one app and answers `errcode 0` with a msgid, but silently drops the excess: nothing this client receives
tells a dropped message from a delivered one. Callers send through the rate-limited chat outbox, which keeps every
member under those limits.

Failures come back as the three kinds in `carevisit.wecom.errors`. Nothing here logs message content or userids.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from carevisit.care.clock import Clock
from carevisit.wecom.errors import WeComError, WeComNotProcessed, WeComPermanentError, WeComTemporaryError

log = logging.getLogger(__name__)

TOKEN_REFUSED = frozenset({40014, 42001})  # invalid / expired access_token: fetch a new one, retry once
# API frequency over limit (45009), too many concurrent calls (45033): nothing was done, retry later
NOT_PROCESSED = frozenset({45009, 45033})
FREQUENCY_LIMIT = 45009
BUSY = -1  # "system busy": WeCom may or may not have acted
NO_VALID_RECIPIENT = 81013
INVALID_USERID = 40003
NO_SUCH_MOBILE = 46004  # getuserid: no member has this mobile

_TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
MAX_BUTTONS = 6
MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Button:
    text: str  # ≤ 10 characters advised
    key: str  # comes back as the callback's EventKey
    style: int = 1  # 1 blue … 4 grey


@dataclass(frozen=True, slots=True)
class ButtonCard:
    """A `button_interaction` template card. `url` opens the app page: it is the card's own action and its jump
    link, so a member who cannot see cards (WeCom inside plain WeChat, 微工作台) still has the page."""

    task_id: str
    title: str
    url: str
    buttons: tuple[Button, ...]
    description: str = ""  # shown under the title (WeCom advises ≤ 30 characters)
    sub_title: str = ""  # the longer text below (≤ 112 characters advised)
    link_title: str = "打开"

    def __post_init__(self) -> None:
        if not _TASK_ID.match(self.task_id):
            raise ValueError("task_id must be 1–128 characters of [0-9A-Za-z_-@]")
        if not 1 <= len(self.buttons) <= MAX_BUTTONS:
            raise ValueError(f"a button card has 1 to {MAX_BUTTONS} buttons")
        keys = [b.key for b in self.buttons]
        if len(set(keys)) != len(keys):
            raise ValueError("button keys must be unique within a card")
        if any(not key or len(key.encode()) > MAX_KEY_BYTES for key in keys):
            raise ValueError(f"a button key is 1 to {MAX_KEY_BYTES} bytes")
        if not self.url:
            raise ValueError("every card carries a jump URL")

    def to_json(self) -> dict[str, Any]:
        main_title: dict[str, str] = {"title": self.title}
        if self.description:
            main_title["desc"] = self.description
        card: dict[str, Any] = {
            "card_type": "button_interaction",
            "main_title": main_title,
            "card_action": {"type": 1, "url": self.url},
            "jump_list": [{"type": 1, "title": self.link_title, "url": self.url}],
            "task_id": self.task_id,
            "button_list": [{"text": b.text, "style": b.style, "key": b.key} for b in self.buttons],
        }
        if self.sub_title:
            card["sub_title_text"] = self.sub_title
        return card


@dataclass(frozen=True, slots=True)
class SendResult:
    msgid: str
    response_code: str | None = None  # cards only: the one use of update_template_card
    invalid_users: tuple[str, ...] = field(default=())  # userids WeCom does not know; the rest were accepted


class WeComClient:
    def __init__(
        self,
        corp_id: str,
        agent_id: int,
        secret: str,
        api_base: str,
        clock: Clock,
        *,
        timeout: float = 10.0,
        token_margin: timedelta = timedelta(minutes=5),
        duplicate_check_interval: int | None = None,
    ) -> None:
        self._corp_id = corp_id
        self._agent_id = int(agent_id)
        self._secret = secret
        self._base = api_base.rstrip("/")
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._margin = token_margin
        # Set: sends carry enable_duplicate_check, so a byte-identical resend after a timeout is dropped by WeCom.
        self._duplicate_interval = duplicate_check_interval
        self._token: str | None = None
        self._token_until: datetime | None = None
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> WeComClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- the API ---

    async def send_text(self, touser: list[str], content: str) -> SendResult:
        return await self._send(touser, "text", {"content": content})

    async def send_card(self, touser: list[str], card: ButtonCard) -> SendResult:
        return await self._send(touser, "template_card", card.to_json())

    async def update_card(self, response_code: str, replace_name: str) -> None:
        """Grey the tapped card's buttons out with `replace_name`. Each response_code works once, for 72 h."""
        body = {"agentid": self._agent_id, "response_code": response_code, "button": {"replace_name": replace_name}}
        await self._call("POST", "/cgi-bin/message/update_template_card", body=body)

    async def user_by_oauth_code(self, code: str) -> str | None:
        """The member's userid for an OAuth `code` (each works once, for 5 minutes); None for a non-member."""
        answer = await self._call("GET", "/cgi-bin/auth/getuserinfo", query={"code": code})
        userid = answer.get("userid") or answer.get("UserId")
        return str(userid) if userid else None

    async def userid_by_mobile(self, mobile: str) -> str | None:
        """The member whose directory mobile is `mobile` (WeCom's own format: 11 digits for the mainland), or None
        when no member has it (46004). Needs the app to see the member (its 可见范围)."""
        try:
            answer = await self._call("POST", "/cgi-bin/user/getuserid", body={"mobile": mobile})
        except WeComPermanentError as error:
            if error.errcode == NO_SUCH_MOBILE:
                return None
            raise
        userid = answer.get("userid")
        return str(userid) if userid else None

    # --- plumbing ---

    async def _send(self, touser: list[str], msgtype: str, payload: dict[str, Any]) -> SendResult:
        if not touser:
            raise WeComPermanentError("no recipient")
        body: dict[str, Any] = {"touser": "|".join(touser), "msgtype": msgtype, "agentid": self._agent_id}
        body[msgtype] = payload
        if self._duplicate_interval is not None:
            body["enable_duplicate_check"] = 1
            body["duplicate_check_interval"] = self._duplicate_interval
        answer = await self._call("POST", "/cgi-bin/message/send", body=body)
        invalid = tuple(u for u in str(answer.get("invaliduser") or "").split("|") if u)
        return SendResult(str(answer.get("msgid", "")), answer.get("response_code") or None, invalid)

    async def _call(
        self, method: str, path: str, *, query: dict[str, str] | None = None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # Compact and in a fixed order, so a resend is byte-identical (WeCom's duplicate check compares bytes).
        data = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        token = await self._access_token()
        answer = await self._request(method, path, {**(query or {}), "access_token": token}, data)
        if answer.get("errcode") in TOKEN_REFUSED:
            self._forget(token)
            token = await self._access_token()
            answer = await self._request(method, path, {**(query or {}), "access_token": token}, data)
        return _checked(path, answer)

    async def _access_token(self) -> str:
        if self._fresh():
            assert self._token is not None
            return self._token
        async with self._lock:
            if not self._fresh():  # another caller may have fetched it while this one waited
                await self._fetch_token()
            assert self._token is not None
            return self._token

    def _fresh(self) -> bool:
        return self._token is not None and self._token_until is not None and self._clock.now() < self._token_until

    def _forget(self, token: str) -> None:
        # Only the token that was refused: a concurrent caller may already hold a newer one.
        if self._token == token:
            self._token = None
            self._token_until = None

    async def _fetch_token(self) -> None:
        query = {"corpid": self._corp_id, "corpsecret": self._secret}
        try:
            answer = await self._request("GET", "/cgi-bin/gettoken", query, None)
        except WeComTemporaryError as error:
            # Nothing was sent yet: the message itself certainly was not acted on.
            raise WeComNotProcessed(f"gettoken failed: {error}") from error
        answer = _checked("/cgi-bin/gettoken", answer)
        if not answer.get("access_token"):
            raise WeComNotProcessed("gettoken answered no access_token")
        expires_in = int(answer.get("expires_in", 7200))
        self._token = str(answer["access_token"])
        lifetime = timedelta(seconds=expires_in)
        # A short-lived token is still used for half its life, not refetched on every call.
        self._token_until = self._clock.now() + lifetime - min(self._margin, lifetime / 2)
        log.info("wecom access token fetched, valid %d s", expires_in)

    async def _request(self, method: str, path: str, query: dict[str, str], data: bytes | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            async with self._http().request(
                method, self._base + path, params=query, data=data, headers=headers
            ) as response:
                if response.status >= 500:
                    raise WeComTemporaryError(f"{path}: HTTP {response.status}")
                if response.status != 200:
                    raise WeComPermanentError(f"{path}: HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, json.JSONDecodeError) as error:
            # Not chained: aiohttp's errors may quote the URL, whose query holds the access_token or corpsecret.
            raise WeComTemporaryError(f"{path}: {type(error).__name__}") from None
        if not isinstance(answer, dict):
            raise WeComTemporaryError(f"{path}: not a JSON object")
        return answer

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


def _checked(path: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer if errcode is 0, else the error kind it means (errmsg is WeCom's text, never ours or content)."""
    errcode = int(answer.get("errcode", 0))
    if errcode == 0:
        return answer
    message = f"{path}: errcode {errcode}"
    if errcode != NO_SUCH_MOBILE:  # an expected answer of getuserid, not trouble
        log.warning("wecom %s", message)
    error: type[WeComError]
    if errcode in NOT_PROCESSED or errcode in TOKEN_REFUSED:
        error = WeComNotProcessed  # a token refused twice: nothing was done either
    elif errcode == BUSY:
        error = WeComTemporaryError
    else:
        error = WeComPermanentError  # 81013 and every refusal of the request itself
    raise error(message, errcode=errcode)
