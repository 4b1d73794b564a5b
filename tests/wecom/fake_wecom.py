"""A fake qyapi.weixin.qq.com (aiohttp) for our WeCom client to talk real HTTP to — as harsh as WeCom
(CHANNELS.md §1.1, §5.3):

- `GET /cgi-bin/gettoken` checks corpid and corpsecret (40013, 40001) and is itself frequency-limited
  (`gettoken_per_minute`, 45009 beyond it); tokens live 7,200 s by the fake's clock and `revoke` ends them early;
- every other call checks `access_token`: 41001 missing, 40014 unknown or revoked, 42001 expired;
- `POST /cgi-bin/message/send` checks agentid (40056), msgtype (40008) and the message: text, textcard, and
  template_card `button_interaction` (≤ 6 buttons, keys ≤ 1,024 bytes and unique, task_id ≤ 128 bytes of
  [0-9A-Za-z_-@] and unique per app, a callback URL configured); `touser` is `|`-joined userids, the unknown ones
  come back in `invaliduser`, 81013 when none is valid;
- **per member 30 a minute and 1,000 an hour: beyond that a message is SILENTLY dropped** — errcode 0 and a msgid,
  as WeCom answers, but not delivered. `deliveries` records each (message, member) as delivered or dropped, with
  the reason, so tests can see what the caller cannot; `enable_duplicate_check` drops a byte-identical request
  within `duplicate_check_interval` (1,800 s by default) the same silent way;
- cards answer a `response_code`; `POST /cgi-bin/message/update_template_card` takes each code once, for 72 h;
- `GET /cgi-bin/user/get` (60111 unknown userid), `POST /cgi-bin/user/getuserid` by mobile (46004 no such
  member; the mobile as the directory holds it, 11 digits for the mainland) and `GET /cgi-bin/auth/getuserinfo`
  (an OAuth code from `oauth_code`, each once, for 5 minutes; 40029 otherwise);
- `fail_next` answers 5xx or drops the connection (after acting, with `process`); `hang_next` answers late;
  `error_next` answers a WeCom error (45009, -1, …); `expire` ends tokens by the clock before the client expects;
- `tap` POSTs an encrypted `template_card_event` to carevisit's callback, encrypted by wechatpy's
  `WeChatCrypto` (an implementation independent of ours), for a card the member was delivered; its ResponseCode
  updates the card once; `callback_request` builds one to send twice or forge; `verify_url` drives the GET
  echostr verification.

Error codes for WeCom-side refusals whose exact code the docs do not give (task_id reused, response_code used or
expired, a malformed card) are marked UNVERIFIED below: the client treats them all as permanent, as it should.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from carevisit.care.clock import Clock

CORP_ID = "ww0000fakecorp0001"
AGENT_ID = 1000002
SECRET = "fakeWeComAppSecret00000000000000000000000000"
TOKEN = "fakeCallbackToken0001"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # an EncodingAESKey: 43 characters

TOKEN_LIFETIME = timedelta(seconds=7200)
RESPONSE_CODE_LIFETIME = timedelta(hours=72)
OAUTH_CODE_LIFETIME = timedelta(minutes=5)
PER_MINUTE = 30
PER_HOUR = 1000
DUPLICATE_INTERVAL = 1800

INVALID_CREDENTIAL = 40001
INVALID_CORPID = 40013
INVALID_TOKEN = 40014
INVALID_MSGTYPE = 40008
INVALID_OAUTH_CODE = 40029
INVALID_AGENTID = 40056
INVALID_PARAMETER = 40058  # UNVERIFIED for malformed cards: WeCom's generic "invalid parameter"
TOKEN_MISSING = 41001
TOKEN_EXPIRED = 42001
FREQUENCY = 45009
USER_NOT_FOUND = 60111
MOBILE_NOT_FOUND = 46004
NO_VALID_RECIPIENT = 81013
TASK_ID_USED = 40058  # UNVERIFIED
RESPONSE_CODE_INVALID = 40058  # UNVERIFIED: used, expired or never issued

_TASK_ID = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")


class WeComRefusal(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class Member:
    userid: str
    name: str
    mobile: str = ""


@dataclass
class Delivery:
    """One message to one member: delivered, or dropped silently (`reason`: "minute", "hour", "duplicate")."""

    msgid: str
    userid: str
    msgtype: str
    message: dict[str, Any]
    at: datetime
    delivered: bool
    reason: str | None = None


@dataclass
class Card:
    task_id: str
    msgid: str
    userids: list[str]
    sent: datetime
    used: bool = False
    replaced_with: str | None = None


@dataclass
class Failure:
    status: int = 500  # 0: drop the connection without an answer
    process: bool = False  # act first, then fail to say so
    hang: float = 0.0  # real seconds before answering (past the client's timeout)
    path: str | None = None  # only this path; None: any
    errcode: int | None = None  # a WeCom error (HTTP 200) instead
    errmsg: str = ""


@dataclass
class _Token:
    expires: datetime
    revoked: bool = False


@dataclass
class _Sent:
    body: bytes
    at: datetime
    interval: int
    answer: dict[str, Any] = field(default_factory=dict)


class FakeWeCom:
    def __init__(
        self,
        clock: Clock,
        *,
        corp_id: str = CORP_ID,
        agent_id: int = AGENT_ID,
        secret: str = SECRET,
        token: str = TOKEN,
        aes_key: str = AES_KEY,
        gettoken_per_minute: int = 10,
        callback_configured: bool = True,
    ) -> None:
        self.clock = clock
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secret = secret
        self.token = token
        self.aes_key = aes_key
        self.gettoken_per_minute = gettoken_per_minute
        self.callback_configured = callback_configured
        self.members: dict[str, Member] = {}
        self.tokens: dict[str, _Token] = {}
        self.gettoken_calls: list[datetime] = []
        self.deliveries: list[Delivery] = []
        self.cards: dict[str, Card] = {}  # response_code -> card
        self.task_ids: set[str] = set()
        self.oauth_codes: dict[str, tuple[str, datetime]] = {}
        self.failures: list[Failure] = []
        self.requests: list[str] = []  # the path of every request, in order
        self.refusals: list[int] = []  # every errcode other than 0 answered, in order
        self.taps: list[tuple[str, str, str, str]] = []  # (userid, task_id, key, response_code) of every tap
        self.callbacks: list[tuple[int, str]] = []  # our callback's answers (status, body)
        self._sent: list[_Sent] = []
        self._ids = itertools.count(1)
        self.server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- running ---

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._route(self._gettoken, authenticated=False))
        app.router.add_post("/cgi-bin/message/send", self._route(self._send))
        app.router.add_post("/cgi-bin/message/update_template_card", self._route(self._update_card))
        app.router.add_get("/cgi-bin/user/get", self._route(self._user_get))
        app.router.add_get("/cgi-bin/auth/getuserinfo", self._route(self._getuserinfo))
        app.router.add_post("/cgi-bin/user/getuserid", self._route(self._getuserid))
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self._http = aiohttp.ClientSession()
        return self.api_base

    @property
    def api_base(self) -> str:
        assert self.server is not None
        return f"http://{self.server.host}:{self.server.port}"

    async def close(self) -> None:
        if self._http:
            await self._http.close()
        if self.server:
            await self.server.close()

    # --- the directory and the tenant's side ---

    def add_member(self, userid: str, name: str = "成员", mobile: str = "") -> Member:
        member = Member(userid, name, mobile)
        self.members[userid] = member
        return member

    def revoke(self, token: str | None = None) -> None:
        """WeCom ends a token early (all of them by default): the next call with it answers 40014."""
        for value, held in self.tokens.items():
            if token in (None, value):
                held.revoked = True

    def expire(self, token: str | None = None) -> None:
        """A token's time is up now, whatever the client believes (all tokens by default): 42001 next."""
        for value, held in self.tokens.items():
            if token in (None, value):
                held.expires = min(held.expires, self.clock.now())

    def oauth_code(self, userid: str) -> str:
        """The code WeCom's authorize page would put on the redirect for this member."""
        code = secrets.token_urlsafe(24)
        self.oauth_codes[code] = (userid, self.clock.now())
        return code

    # --- what tests look at ---

    def delivered_to(self, userid: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.userid == userid and d.delivered]

    def dropped_to(self, userid: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.userid == userid and not d.delivered]

    def card(self, response_code: str) -> Card:
        return self.cards[response_code]

    # --- failures ---

    def fail_next(self, status: int = 500, *, times: int = 1, process: bool = False, path: str | None = None) -> None:
        """The next `times` requests answer HTTP `status` (0: the connection is dropped without an answer)."""
        self.failures.extend(Failure(status, process, path=path) for _ in range(times))

    def error_next(self, errcode: int, errmsg: str = "", *, process: bool = False, path: str | None = None) -> None:
        """The next request answers WeCom error `errcode` (HTTP 200), e.g. 45009 or -1 (system busy)."""
        self.failures.append(Failure(200, process, path=path, errcode=errcode, errmsg=errmsg or f"error {errcode}"))

    def hang_next(self, seconds: float, *, process: bool = True, path: str | None = None) -> None:
        """Hold the next answer `seconds`; with `process` WeCom acted at once and answers late."""
        self.failures.append(Failure(200, process, hang=seconds, path=path))

    # --- callbacks to carevisit ---

    def template_card_event_xml(
        self, userid: str, task_id: str, key: str, *, response_code: str | None = None, create_time: int | None = None
    ) -> str:
        """The decrypted event WeCom sends when a member taps a card's button (90376 §模板卡片事件推送)."""
        created = create_time if create_time is not None else int(self.clock.now().timestamp())
        code = response_code or self._new_response_code()
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<FromUserName><![CDATA[{escape(userid)}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{escape(key)}]]></EventKey>"
            f"<TaskId><![CDATA[{escape(task_id)}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>{self.agent_id}</AgentID></xml>"
        )

    def callback_request(self, plaintext: str, *, nonce: str | None = None) -> tuple[dict[str, str], str]:
        """The query (msg_signature, timestamp, nonce) and XML body WeCom would POST for `plaintext`, encrypted
        and signed by wechatpy with this app's Token, EncodingAESKey and CorpID."""
        from wechatpy.enterprise.crypto import WeChatCrypto  # the test extra only

        nonce = nonce or "".join(secrets.choice(string.digits) for _ in range(10))
        timestamp = str(int(self.clock.now().timestamp()))
        sealed = WeChatCrypto(self.token, self.aes_key, self.corp_id).encrypt_message(plaintext, nonce, timestamp)
        encrypt = _tag(sealed, "Encrypt")
        query = {"msg_signature": _tag(sealed, "MsgSignature"), "timestamp": timestamp, "nonce": nonce}
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        )
        return query, body

    async def post_callback(self, url: str, query: dict[str, str], body: str) -> tuple[int, str]:
        assert self._http is not None
        headers = {"Content-Type": "text/xml"}
        async with self._http.post(url, params=query, data=body.encode(), headers=headers) as response:
            answer = (response.status, await response.text())
        self.callbacks.append(answer)
        return answer

    async def tap(self, url: str, userid: str, task_id: str, key: str) -> tuple[int, str]:
        """A member taps a button of a card delivered to them: the encrypted template_card_event POSTed to
        carevisit's callback `url`. The event's ResponseCode is new and updates the card once, for 72 h (a test
        that forges an event builds it with `template_card_event_xml` and `callback_request` instead)."""
        card = self._delivered_card(userid, task_id)
        keys = [b.get("key") for b in card.message.get("button_list", [])]
        if key not in keys:
            raise ValueError(f"the card {task_id} has no button {key!r}")
        code = self._new_response_code()
        self.cards[code] = Card(task_id, card.msgid, [userid], self.clock.now())
        self.taps.append((userid, task_id, key, code))
        query, body = self.callback_request(self.template_card_event_xml(userid, task_id, key, response_code=code))
        return await self.post_callback(url, query, body)

    def url_verification(self, echostr: str = "") -> tuple[dict[str, str], str]:
        """The query of WeCom's GET when the admin saves the callback URL, and the plaintext the answer must be."""
        from wechatpy.enterprise.crypto import WeChatCrypto  # the test extra only

        plain = echostr or secrets.token_hex(8)
        nonce = "".join(secrets.choice(string.digits) for _ in range(10))
        timestamp = str(int(self.clock.now().timestamp()))
        # The echostr is sealed and signed as a message's Encrypt is.
        sealed = WeChatCrypto(self.token, self.aes_key, self.corp_id).encrypt_message(plain, nonce, timestamp)
        query = {"msg_signature": _tag(sealed, "MsgSignature"), "timestamp": timestamp, "nonce": nonce}
        return {**query, "echostr": _tag(sealed, "Encrypt")}, plain

    async def verify_url(self, url: str) -> bool:
        """Drive the URL verification: True if carevisit answered the plaintext exactly (no quotes, BOM, newline)."""
        assert self._http is not None
        query, plain = self.url_verification()
        async with self._http.get(url, params=query) as response:
            body = await response.read()
        return response.status == 200 and body == plain.encode()

    def _delivered_card(self, userid: str, task_id: str) -> Delivery:
        for delivery in reversed(self.deliveries):
            if (
                delivery.delivered
                and delivery.userid == userid
                and delivery.msgtype == "template_card"
                and delivery.message.get("task_id") == task_id
            ):
                return delivery
        raise ValueError(f"no card {task_id} was delivered to that member")

    # --- the API ---

    def _route(self, action: Any, *, authenticated: bool = True) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.requests.append(request.path)
            failure = self._failure_for(request.path)
            if failure is not None and not failure.process:
                return await self._fail(request, failure)
            try:
                if authenticated:
                    self._check_token(request.query.get("access_token"))
                answer = {"errcode": 0, "errmsg": "ok", **await action(request)}
            except WeComRefusal as refusal:
                self.refusals.append(refusal.errcode)
                answer = {"errcode": refusal.errcode, "errmsg": refusal.errmsg}
            if failure is not None:
                return await self._fail(request, failure, answer)
            return web.json_response(answer)

        return handle

    def _failure_for(self, path: str) -> Failure | None:
        failure = next((f for f in self.failures if f.path in (None, path)), None)
        if failure is not None:
            self.failures.remove(failure)
        return failure

    async def _fail(
        self, request: web.Request, failure: Failure, answer: dict[str, Any] | None = None
    ) -> web.StreamResponse:
        if failure.hang:
            await asyncio.sleep(failure.hang)
        if failure.status == 0:
            assert request.transport is not None
            request.transport.close()  # the connection drops: no answer at all
            return web.Response()
        if failure.status != 200:
            return web.Response(status=failure.status, text="<html>502 Bad Gateway</html>", content_type="text/html")
        if failure.errcode is not None:
            self.refusals.append(failure.errcode)
            return web.json_response({"errcode": failure.errcode, "errmsg": failure.errmsg})
        return web.json_response(answer or {"errcode": 0, "errmsg": "ok"})

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise WeComRefusal(TOKEN_MISSING, "access_token missing")
        held = self.tokens.get(token)
        if held is None or held.revoked:
            raise WeComRefusal(INVALID_TOKEN, "invalid access_token")
        if self.clock.now() >= held.expires:
            raise WeComRefusal(TOKEN_EXPIRED, "access_token expired")

    async def _gettoken(self, request: web.Request) -> dict[str, Any]:
        now = self.clock.now()
        self.gettoken_calls.append(now)
        recent = [t for t in self.gettoken_calls if now - t < timedelta(minutes=1)]
        if len(recent) > self.gettoken_per_minute:
            raise WeComRefusal(FREQUENCY, "api freq out of limit")
        if request.query.get("corpid") != self.corp_id:
            raise WeComRefusal(INVALID_CORPID, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            raise WeComRefusal(INVALID_CREDENTIAL, "invalid credential")
        token = secrets.token_urlsafe(96)  # WeCom's are long: the docs ask for ≥ 512 bytes of storage
        self.tokens[token] = _Token(now + TOKEN_LIFETIME)
        return {"access_token": token, "expires_in": int(TOKEN_LIFETIME.total_seconds())}

    async def _send(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        body = _json(raw)
        self._check_agent(body)
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "textcard", "template_card"):
            raise WeComRefusal(INVALID_MSGTYPE, "invalid message type")
        message = body.get(msgtype)
        if not isinstance(message, dict):
            raise WeComRefusal(INVALID_PARAMETER, f"{msgtype} missing")
        {"text": _check_text, "textcard": _check_textcard, "template_card": self._check_card}[msgtype](message)
        valid, invalid = self._recipients(str(body.get("touser", "")))
        duplicate = self._duplicate(raw, body)
        if duplicate is not None:  # dropped silently: WeCom answers as it did the first time
            return duplicate.answer
        if msgtype == "template_card":
            if message["task_id"] in self.task_ids:
                raise WeComRefusal(TASK_ID_USED, "task_id already used")
            self.task_ids.add(message["task_id"])
        msgid = f"msg{next(self._ids):08d}"
        answer: dict[str, Any] = {"invaliduser": "|".join(invalid), "msgid": msgid}
        if msgtype == "template_card":
            code = self._new_response_code()
            self.cards[code] = Card(message["task_id"], msgid, valid, self.clock.now())
            answer["response_code"] = code
        for userid in valid:
            self._deliver(msgid, userid, msgtype, message)
        self._remember(raw, body, answer)
        return answer

    def _check_agent(self, body: dict[str, Any]) -> None:
        try:
            agent = int(body.get("agentid", 0))
        except (TypeError, ValueError):
            agent = 0
        if agent != self.agent_id:
            raise WeComRefusal(INVALID_AGENTID, "invalid agentid")

    def _check_card(self, card: dict[str, Any]) -> None:
        if card.get("card_type") != "button_interaction":
            raise WeComRefusal(INVALID_PARAMETER, "only button_interaction cards are faked")
        if not self.callback_configured:
            raise WeComRefusal(INVALID_PARAMETER, "app without a callback URL cannot send callback cards")
        if not (card.get("main_title") or {}).get("title"):
            raise WeComRefusal(INVALID_PARAMETER, "main_title.title missing")
        task_id = str(card.get("task_id", ""))
        if not _TASK_ID.match(task_id):
            raise WeComRefusal(INVALID_PARAMETER, "invalid task_id")
        buttons = card.get("button_list") or []
        if not 1 <= len(buttons) <= 6:
            raise WeComRefusal(INVALID_PARAMETER, "button_list holds 1 to 6 buttons")
        keys = [str(b.get("key", "")) for b in buttons]
        if any(not k or len(k.encode()) > 1024 for k in keys) or len(set(keys)) != len(keys):
            raise WeComRefusal(INVALID_PARAMETER, "button keys are 1 to 1024 bytes and unique")

    def _recipients(self, touser: str) -> tuple[list[str], list[str]]:
        if touser == "@all":
            return list(self.members), []
        named = [u for u in touser.split("|") if u]
        valid = list(dict.fromkeys(u for u in named if u in self.members))
        invalid = [u for u in named if u not in self.members]
        if not valid:
            raise WeComRefusal(NO_VALID_RECIPIENT, "all touser invalid")
        return valid, invalid

    def _duplicate(self, raw: bytes, body: dict[str, Any]) -> _Sent | None:
        if not body.get("enable_duplicate_check"):
            return None
        now = self.clock.now()
        for sent in self._sent:
            if sent.body == raw and now - sent.at < timedelta(seconds=sent.interval):
                for userid in self._recipients(str(body.get("touser", "")))[0]:
                    msgtype = str(body["msgtype"])
                    self.deliveries.append(
                        Delivery(sent.answer["msgid"], userid, msgtype, body[msgtype], now, False, "duplicate")
                    )
                return sent
        return None

    def _remember(self, raw: bytes, body: dict[str, Any], answer: dict[str, Any]) -> None:
        if body.get("enable_duplicate_check"):
            interval = int(body.get("duplicate_check_interval") or DUPLICATE_INTERVAL)
            self._sent.append(_Sent(raw, self.clock.now(), min(interval, 4 * 3600), answer))

    def _deliver(self, msgid: str, userid: str, msgtype: str, message: dict[str, Any]) -> None:
        now = self.clock.now()
        delivered = [d.at for d in self.deliveries if d.userid == userid and d.delivered]
        reason = None
        if sum(1 for at in delivered if now - at < timedelta(minutes=1)) >= PER_MINUTE:
            reason = "minute"
        elif sum(1 for at in delivered if now - at < timedelta(hours=1)) >= PER_HOUR:
            reason = "hour"
        self.deliveries.append(Delivery(msgid, userid, msgtype, message, now, reason is None, reason))

    def _new_response_code(self) -> str:
        return secrets.token_urlsafe(32)

    async def _update_card(self, request: web.Request) -> dict[str, Any]:
        body = _json(await request.read())
        self._check_agent(body)
        card = self.cards.get(str(body.get("response_code", "")))
        if card is None or card.used or self.clock.now() - card.sent >= RESPONSE_CODE_LIFETIME:
            raise WeComRefusal(RESPONSE_CODE_INVALID, "invalid response_code")
        replace_name = (body.get("button") or {}).get("replace_name")
        if not replace_name:
            raise WeComRefusal(INVALID_PARAMETER, "button.replace_name missing")
        card.used = True
        card.replaced_with = str(replace_name)
        return {"invaliduser": []}

    async def _user_get(self, request: web.Request) -> dict[str, Any]:
        member = self.members.get(request.query.get("userid", ""))
        if member is None:
            raise WeComRefusal(USER_NOT_FOUND, "invalid userid")
        return {"userid": member.userid, "name": member.name, "mobile": member.mobile, "status": 1}

    async def _getuserid(self, request: web.Request) -> dict[str, Any]:
        mobile = str(_json(await request.read()).get("mobile", ""))
        if not mobile:
            raise WeComRefusal(INVALID_PARAMETER, "mobile missing")
        member = next((m for m in self.members.values() if m.mobile and m.mobile == mobile), None)
        if member is None:
            raise WeComRefusal(MOBILE_NOT_FOUND, "mobile not found")
        return {"userid": member.userid}

    async def _getuserinfo(self, request: web.Request) -> dict[str, Any]:
        code = request.query.get("code", "")
        issued = self.oauth_codes.pop(code, None)  # each code works once, used or not
        if issued is None or self.clock.now() - issued[1] >= OAUTH_CODE_LIFETIME:
            raise WeComRefusal(INVALID_OAUTH_CODE, "invalid code")
        userid = issued[0]
        if userid in self.members:
            return {"userid": userid, "user_ticket": secrets.token_urlsafe(16)}
        return {"openid": f"o{secrets.token_hex(8)}"}  # not a member of the corp


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeComRefusal(47001, "data format error") from error
    if not isinstance(body, dict):
        raise WeComRefusal(47001, "data format error")
    return body


def _check_text(message: dict[str, Any]) -> None:
    content = str(message.get("content", ""))
    if not content:
        raise WeComRefusal(44004, "empty content")
    if len(content.encode()) > 2048:
        raise WeComRefusal(45002, "content size out of limit")


def _check_textcard(message: dict[str, Any]) -> None:
    title, description, url = (str(message.get(k, "")) for k in ("title", "description", "url"))
    if not title or not description or not url:
        raise WeComRefusal(INVALID_PARAMETER, "textcard needs title, description and url")
    if len(title.encode()) > 128 or len(description.encode()) > 512:
        raise WeComRefusal(45002, "textcard out of limit")


def _tag(xml: str, name: str) -> str:
    match = re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", xml, re.DOTALL)
    assert match, f"no {name} in {xml!r}"
    return match.group(1)
