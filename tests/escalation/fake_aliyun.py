"""A fake Aliyun dysmsapi + dyvmsapi (2017-05-25) for the official SDKs to talk HTTP to, as harsh as Aliyun:

- it verifies every request's signature: ACS3-HMAC-SHA256 (the SDK's default) with the SignedHeaders the request
  names, `+` in the query read as a space before re-quoting (CHANNELS.md, corrections #1), the body's
  x-acs-content-sha256, x-acs-date skew and x-acs-signature-nonce reuse; and the old RPC signature (HMAC-SHA1,
  `signature_algorithm="v2"`). Refusals are Aliyun's JSON errors (`SignatureDoesNotMatch`, 400;
  `InvalidAccessKeyId.NotFound`, 404; `InvalidTimeStamp.Expired`, `SignatureNonceUsed`);
- business refusals come back as Aliyun sends them, HTTP 200 with `Code` other than OK: numbers that are not
  mainland (`isv.MOBILE_NUMBER_ILLEGAL`), unregistered signs and templates, TemplateParam whose keys are not the
  template's variables or whose values carry a link, an empty account (`isv.AMOUNT_NOT_ENOUGH`), and the frequency
  limits (`isv.BUSINESS_LIMIT_CONTROL`): SMS ≤ 50 per (sign, template, number) in a rolling 24 h, a send counting
  once submitted; voice per callee ≤ 1/min, 5/h, 20/24 h in windows that start at the first call and reset after
  it (CHANNELS.md corrections #4), failed calls counting;
- `QuerySendDetails` and `QueryCallDetailByCallId` answer in the SDK's response shapes; the call detail carries no
  dtmf (corrections #5), and only for the day asked (QueryDate);
- `fail_next` (5xx, optionally after acting), `drop_next` (the connection closes with no answer) and `hang_next`
  (an answer held past our timeout); `faults` (`RandomFaults`) fails a share of sends at random, the benchmark's
  fault mode;
- callees behave as told (`callee_presses`, `callee_answers`, `callee_does_not_answer`) when a call is run; what
  happened is pushed to our callback base like Aliyun's HTTP batch push — JSON arrays, unsigned, to
  `<callback_base>/<push type>` — and can be pushed twice, never, or out of order.

Where a detail could not be confirmed in Aliyun's documentation it says so beside the code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from carevisit.care.clock import Clock, SystemClock
from tests.escalation.random_faults import FaultDice

ACCESS_KEY_ID = "LTAI5tFakeCarevisitKey"
ACCESS_KEY_SECRET = "fake-aliyun-access-key-secret"
SIGN_NAME = "社区关爱"
SHOW_NUMBER = "057112345678"  # the purchased number (真实号) IvrCall must show
VERSION = "2017-05-25"
CHINA = ZoneInfo("Asia/Shanghai")

PROD_IVR = "11000000300005"
PROD_TTS = "11010000138001"

SEND_SMS = "SendSms"
QUERY_SEND_DETAILS = "QuerySendDetails"
IVR_CALL = "IvrCall"
SINGLE_CALL_BY_TTS = "SingleCallByTts"
QUERY_CALL_DETAIL = "QueryCallDetailByCallId"
ACTIONS = (SEND_SMS, QUERY_SEND_DETAILS, IVR_CALL, SINGLE_CALL_BY_TTS, QUERY_CALL_DETAIL)

PUSH_TYPES = ("SmsReport", "SmsUp", "VoiceCallReport", "VoiceReport")

# Aliyun allows 15 minutes between x-acs-date (or Timestamp) and its own clock.
SKEW = timedelta(minutes=15)
# A template variable's value: Aliyun's notification rule is at most 35 characters (not confirmed for every
# variable type; the documented per-type lengths are shorter for some).
VARIABLE_MAX = 35

# Mainland mobile numbers as SendSms takes them: 11 digits, or with +/+86/0086/86 in front (Aliyun's SendSms doc).
_SMS_NUMBER = re.compile(r"^(?:\+|\+86|0086|86)?(1[3-9]\d{9})$")
# A voice callee: a mainland mobile, or a landline with its area code; voice takes no prefix (not confirmed: the
# IvrCall doc only says "mainland numbers, one per call").
_VOICE_NUMBER = re.compile(r"^(1[3-9]\d{9}|0\d{9,11})$")
# What Aliyun's template rules call a link in a variable: a scheme, www., or a short-link shape (host.tld/path).
_LINK = re.compile(r"(?i)(https?://|www\.|\b[a-z0-9-]+\.(?:cn|com|net|org|ly|me|io|cc|top|vip|xyz)\b(?:/\S*)?)")

# ISP call states (运营商回执, help.aliyun.com vms "operators-receipt-error-code").
STATE_LISTENED = "200000"  # 用户听完语音
STATE_HUNG_UP_EARLY = "200001"
STATE_BUSY = "200002"
STATE_NO_ANSWER = "200003"  # 用户收到呼叫但未接听
STATE_UNREACHABLE = "200005"
STATE_KEY_TIMEOUT = "200008"  # 获取按键超时: answered, no key pressed
STATE_KEY_PRESSED = "300000"  # VoiceCallReport's intermediate state that carries dtmf
_STATE_TEXT = {
    STATE_LISTENED: "用户听完语音",
    STATE_HUNG_UP_EARLY: "用户提前挂机未完整收听",
    STATE_BUSY: "用户占线",
    STATE_NO_ANSWER: "用户收到呼叫但未接听",
    STATE_UNREACHABLE: "被叫用户无法接通",
    STATE_KEY_TIMEOUT: "获取按键超时",
}


@dataclass(frozen=True)
class SmsTemplate:
    code: str
    content: str  # with ${variable}s, as registered

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\$\{(\w+)\}", self.content))

    def render(self, params: dict[str, str]) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], self.content)


@dataclass(frozen=True)
class TtsTemplate:
    code: str
    variables: tuple[str, ...] = ()


@dataclass
class Limits:
    sms_per_day: int = 50
    voice_per_minute: int = 1
    voice_per_hour: int = 5
    voice_per_day: int = 20


@dataclass
class Sms:
    biz_id: str
    phone: str  # 11 digits
    sign: str
    template: str
    params: dict[str, str]
    content: str
    out_id: str | None
    sent_at: datetime
    status: int = 1  # 1 waiting for the receipt, 2 failed, 3 delivered
    err_code: str = ""
    received_at: datetime | None = None
    request_at: float = 0.0  # loop time the SendSms was acted on, for the benchmark


@dataclass
class Call:
    call_id: str
    action: str
    callee: str
    show_number: str
    start_code: str
    params: dict[str, str]
    menu: list[dict[str, str]]
    bye_code: str | None
    out_id: str | None
    placed_at: datetime
    play_times: int
    timeout_ms: int | None
    state: str | None = None  # None until the call has ended
    dtmf: str = ""
    answered_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def prod_id(self) -> str:
        return PROD_IVR if self.action == IVR_CALL else PROD_TTS

    @property
    def duration(self) -> int:
        if self.answered_at is None or self.ended_at is None:
            return 0
        return int((self.ended_at - self.answered_at).total_seconds())


@dataclass(frozen=True)
class Callee:
    """How a callee behaves when a call to them is run: answers (pressing `key`, or nothing) or not."""

    answers: bool = True
    key: str | None = None
    state: str | None = None  # the final state when not answered (default: no answer)


@dataclass
class Failure:
    status: int = 503
    code: str = "ServiceUnavailable"
    process: bool = False  # act first, then fail to say so
    drop: bool = False  # close the connection without an answer
    hang: float = 0.0  # real seconds to hold the answer
    action: str | None = None


SEND_ACTIONS = (SEND_SMS, IVR_CALL, SINGLE_CALL_BY_TTS)


class RandomFaults(FaultDice):
    """A share of sends (SendSms, IvrCall, SingleCallByTts) fails at random: `error_rate` answered 503 without
    acting, `timeout_rate` acted on and answered only after `hang` seconds (past the client's timeout)."""

    def draw(self, action: str) -> Failure | None:
        fault = self.roll() if action in SEND_ACTIONS else None
        if fault == "error":
            return Failure(503, action=action)
        if fault == "timeout":
            return Failure(process=True, hang=self.hang, action=action)
        return None
        roll = self.rng.random()
        if roll < self.error_rate:
            self.injected["500"] += 1
            return Failure(503, action=action)
        if roll < self.error_rate + self.timeout_rate:
            self.injected["timeout"] += 1
            return Failure(process=True, hang=self.hang, action=action)
        return None


@dataclass
class _Window:
    length: timedelta
    limit: int
    start: datetime | None = None
    count: int = 0

    def full(self, now: datetime) -> bool:
        if self.start is None or now >= self.start + self.length:
            return False
        return self.count >= self.limit

    def add(self, now: datetime) -> None:
        # The window starts at the first call and resets after it (not rolling).
        if self.start is None or now >= self.start + self.length:
            self.start, self.count = now, 0
        self.count += 1


class AliyunError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Refused(Exception):
    """A business refusal: HTTP 200 with Aliyun's `Code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FakeAliyun:
    def __init__(
        self,
        clock: Clock,
        *,
        sms_templates: list[SmsTemplate] | None = None,
        tts_templates: list[TtsTemplate] | None = None,
        signs: tuple[str, ...] = (SIGN_NAME,),
        show_numbers: tuple[str, ...] = (SHOW_NUMBER,),
        limits: Limits | None = None,
        keys: dict[str, str] | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.clock = clock  # the frequency windows and the records' times
        # The SDK stamps x-acs-date from the real clock, whatever the test's clock says: skew is checked on this one.
        self.wall = wall or SystemClock()
        self.sms_templates = {t.code: t for t in sms_templates or []}
        self.tts_templates = {t.code: t for t in tts_templates or []}
        self.signs = set(signs)
        self.show_numbers = set(show_numbers)
        self.limits = limits or Limits()
        self.keys = keys if keys is not None else {ACCESS_KEY_ID: ACCESS_KEY_SECRET}
        self.balance_empty = False
        self.report_callee = False  # whether VoiceCallReport names the callee (Aliyun's page lists no such field)
        self.messages: list[Sms] = []
        self.calls: list[Call] = []
        self.callees: dict[str, Callee] = {}
        self.failures: list[Failure] = []
        self.faults: RandomFaults | None = None
        self.requests: list[str] = []  # the action of every request that passed the signature check
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # (method, raw path, headers) of every request
        self.refusals: list[tuple[str, str]] = []  # (action, Code) of every refusal, signature ones included
        self.pushes: list[tuple[str, list[dict[str, Any]], int]] = []  # (push type, body, our HTTP status)
        self.callback_base: str | None = None  # CAREVISIT_PUBLIC_URL/pager/aliyun/<secret>
        self._nonces: set[str] = set()
        self._sms_sent: dict[tuple[str, str, str], deque[datetime]] = {}
        self._voice_windows: dict[str, list[_Window]] = {}
        self._ids = itertools.count(1)
        self.server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- running ---

    async def start(self) -> str:
        """Start serving; returns `host:port`, what the SDK's Config(endpoint=…) takes."""
        app = web.Application(middlewares=[self._errors])
        app.router.add_route("*", "/", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self._http = aiohttp.ClientSession()
        return f"127.0.0.1:{self.server.port}"

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.port}"

    async def close(self) -> None:
        if self._http:
            await self._http.close()
        if self.server:
            await self.server.close()

    # --- what tests set and look at ---

    def callee_presses(self, number: str, key: str = "1") -> None:
        self.callees[_national(number)] = Callee(answers=True, key=key)

    def callee_answers(self, number: str) -> None:
        """Answers and presses nothing."""
        self.callees[_national(number)] = Callee(answers=True, key=None)

    def callee_does_not_answer(self, number: str, *, state: str = STATE_NO_ANSWER) -> None:
        self.callees[_national(number)] = Callee(answers=False, state=state)

    def sms_to(self, number: str) -> list[Sms]:
        return [m for m in self.messages if m.phone == _national(number)]

    def calls_to(self, number: str) -> list[Call]:
        return [c for c in self.calls if c.callee == _national(number)]

    def call(self, call_id: str) -> Call:
        return next(c for c in self.calls if c.call_id == call_id)

    def message(self, biz_id: str) -> Sms:
        return next(m for m in self.messages if m.biz_id == biz_id)

    # --- failures ---

    def fail_next(
        self,
        status: int = 503,
        *,
        code: str = "ServiceUnavailable",
        process: bool = False,
        times: int = 1,
        action: str | None = None,
    ) -> None:
        """The next `times` requests (of `action`, or any) fail with a 5xx; with `process` after acting."""
        self.failures.extend(Failure(status, code, process, action=_action(action)) for _ in range(times))

    def drop_next(self, *, process: bool = False, action: str | None = None) -> None:
        """The next request's connection is closed with no answer (a reset, from the client's side)."""
        self.failures.append(Failure(process=process, drop=True, action=_action(action)))

    def hang_next(self, seconds: float, *, process: bool = True, action: str | None = None) -> None:
        """Hold the next answer `seconds` (past our timeout); with `process` Aliyun acted at once."""
        self.failures.append(Failure(process=process, hang=seconds, action=_action(action)))

    # --- the pushes (HTTP batch push: JSON arrays, unsigned) ---

    def sms_report(self, biz_id: str, *, success: bool = True, err_code: str | None = None) -> dict[str, Any]:
        """The message's receipt arrives at the carrier: the record moves, and its SmsReport item is returned."""
        sms = self.message(biz_id)
        now = self.clock.now()
        sms.status, sms.received_at = (3, now) if success else (2, now)
        sms.err_code = "DELIVERED" if success else (err_code or "MK:0001")
        return {
            "phone_number": sms.phone,
            "success": success,
            "biz_id": sms.biz_id,
            "out_id": sms.out_id or "",
            "send_time": _local(sms.sent_at),
            "report_time": _local(now),
            "err_code": sms.err_code,
            "err_msg": "用户接收成功" if success else "失败",
        }

    def sms_up(self, number: str, content: str, *, sign: str = SIGN_NAME) -> dict[str, Any]:
        return {
            "phone_number": _national(number),
            "content": content,
            "send_time": _local(self.clock.now()),
            "sign_name": sign,
            "dest_code": "1234",  # system-generated; callers cannot set it
            "sequence_id": next(self._ids),
        }

    def run_call(self, call_id: str, *, ring: timedelta = timedelta(seconds=8)) -> list[tuple[str, dict[str, Any]]]:
        """The callee does what they were told: the call ends, and the pushes it causes are returned in the order
        Aliyun would send them (VoiceCallReport with the key, then VoiceReport), for `push` to deliver."""
        call = self.call(call_id)
        callee = self.callees.get(call.callee, Callee(answers=False))
        now = self.clock.now()
        pushes: list[tuple[str, dict[str, Any]]] = []
        if callee.answers:
            call.answered_at = now + ring
            call.ended_at = call.answered_at + timedelta(seconds=20)
            listens = call.action != IVR_CALL or callee.key is not None
            call.state = STATE_LISTENED if listens else STATE_KEY_TIMEOUT
            if call.action == IVR_CALL and callee.key is not None:
                call.dtmf = callee.key
                pushes.append(("VoiceCallReport", self._call_report(call, STATE_KEY_PRESSED, call.answered_at)))
        else:
            call.state = callee.state or STATE_NO_ANSWER
            call.ended_at = now + timedelta(seconds=40)
        pushes.append(("VoiceReport", self._voice_report(call)))
        return pushes

    def _call_report(self, call: Call, state: str, at: datetime) -> dict[str, Any]:
        # Field names: help.aliyun.com vms "voicecallreport" (call_id, status_code, smart_status_code, status_time,
        # out_id, dtmf). `callee` is not in that page's table: it is sent only with `report_callee`.
        extra = {"callee": call.callee} if self.report_callee else {}
        return extra | {
            "call_id": call.call_id,
            "status_code": state,
            "smart_status_code": "ANSWERED",
            "status_time": _local(at),
            "out_id": call.out_id or "",
            "dtmf": call.dtmf,
        }

    def _voice_report(self, call: Call) -> dict[str, Any]:
        # The final call record. Names from help.aliyun.com vms "voice-ivrcall" as far as it could be read:
        # call_id, start_time, end_time, duration, status_code, status_msg, out_id, dtmf, callee, caller (the
        # page was read through a community copy; toll_type and other billing fields are left out).
        return {
            "call_id": call.call_id,
            "start_time": _local(call.answered_at) if call.answered_at else "",
            "end_time": _local(call.ended_at) if call.ended_at else "",
            "duration": call.duration,
            "status_code": call.state or "",
            "status_msg": _STATE_TEXT.get(call.state or "", ""),
            "out_id": call.out_id or "",
            "dtmf": call.dtmf,
            "callee": call.callee,
            "caller": call.show_number,
        }

    async def push(
        self, push_type: str, items: list[dict[str, Any]], *, times: int = 1, retry: bool = True
    ) -> list[int]:
        """POST one batch to `<callback_base>/<push_type>` `times` times (a duplicate when 2). Aliyun retries a
        batch it did not see answered with {"code": 0}; with `retry` so does this, once. Returns our statuses."""
        assert self.callback_base, "set callback_base to carevisit's /pager/aliyun/<secret>"
        assert push_type in PUSH_TYPES
        statuses = []
        for _ in range(times):
            status, ok = await self._post(push_type, items)
            if not ok and retry:
                status, ok = await self._post(push_type, items)
            statuses.append(status)
        return statuses

    async def push_call(self, call_id: str, *, order: str = "sent", times: int = 1, skip: tuple[str, ...] = ()) -> None:
        """Run the call and push what it causes: in order ("sent") or the final record first ("reversed"),
        each `times` times, leaving out the push types in `skip` (a push that never comes)."""
        pushes = [p for p in self.run_call(call_id) if p[0] not in skip]
        if order == "reversed":
            pushes.reverse()
        for push_type, item in pushes:
            await self.push(push_type, [item], times=times)

    async def _post(self, push_type: str, items: list[dict[str, Any]]) -> tuple[int, bool]:
        assert self._http is not None and self.callback_base
        url = f"{self.callback_base.rstrip('/')}/{push_type}"
        try:
            async with self._http.post(url, json=items) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    answer = None
        except aiohttp.ClientError:
            status, answer = 599, None
        self.pushes.append((push_type, items, status))
        return status, status == 200 and isinstance(answer, dict) and answer.get("code") == 0

    # --- the API ---

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except AliyunError as error:
            self.refusals.append((request.headers.get("x-acs-action") or request.query.get("Action", ""), error.code))
            return _error(error.status, error.code, error.message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.method, request.raw_path, dict(request.headers)))
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))  # `+` is a space here
        action = self._authenticate(request, query, body)
        self.requests.append(action)
        failure = next((f for f in self.failures if f.action in (None, action)), None)
        if failure is not None:
            self.failures.remove(failure)
        elif self.faults is not None:
            failure = self.faults.draw(action)
        params = {k: v for k, v in query.items() if k not in _RPC_KEYS}
        if failure is not None and not failure.process:
            return await self._fail(request, failure, None)
        try:
            answer = self._act(action, params)
        except Refused as refusal:
            self.refusals.append((action, refusal.code))
            answer = {"Code": refusal.code, "Message": refusal.message}
        answer["RequestId"] = _request_id(next(self._ids))
        if failure is not None:
            return await self._fail(request, failure, answer)
        return web.json_response(answer)

    async def _fail(self, request: web.Request, failure: Failure, answer: dict[str, Any] | None) -> web.StreamResponse:
        if failure.hang:
            await asyncio.sleep(failure.hang)
            if answer is not None:
                return web.json_response(answer)
            raise AliyunError(503, "ServiceUnavailable", "The request has failed due to a temporary failure.")
        if failure.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        raise AliyunError(failure.status, failure.code, "The request has failed due to a temporary failure.")

    def _act(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        handlers = {
            SEND_SMS: self._send_sms,
            QUERY_SEND_DETAILS: self._query_send_details,
            IVR_CALL: self._ivr_call,
            SINGLE_CALL_BY_TTS: self._single_call_by_tts,
            QUERY_CALL_DETAIL: self._query_call_detail,
        }
        return handlers[action](params)

    # --- signatures ---

    def _authenticate(self, request: web.Request, query: dict[str, str], body: bytes) -> str:
        if "Signature" in query:
            return self._check_rpc(request, query)
        return self._check_acs3(request, query, body)

    def _check_acs3(self, request: web.Request, query: dict[str, str], body: bytes) -> str:
        auth = request.headers.get("Authorization", "")
        match = re.fullmatch(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)", auth)
        if not match:
            raise AliyunError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        key_id, signed, signature = match.groups()
        secret = self._secret(key_id)
        names = signed.split(";")
        if names != sorted(names) or not {"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce"} <= set(names):
            raise AliyunError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        if request.headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            raise AliyunError(400, "SignatureDoesNotMatch", "The payload hash does not match x-acs-content-sha256.")
        headers = "".join(f"{n}:{','.join(sorted(v.strip() for v in request.headers.getall(n, [])))}\n" for n in names)
        digest = hashlib.sha256(body).hexdigest()
        canonical = "\n".join([request.method, request.path or "/", _canonical_query(query), headers, signed, digest])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise AliyunError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self._check_fresh(request.headers.get("x-acs-date", ""), request.headers.get("x-acs-signature-nonce", ""))
        return self._known_action(request.headers.get("x-acs-action", ""), request.headers.get("x-acs-version"))

    def _check_rpc(self, request: web.Request, query: dict[str, str]) -> str:
        if query.get("SignatureMethod") != "HMAC-SHA1" or query.get("SignatureVersion") != "1.0":
            raise AliyunError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        secret = self._secret(query.get("AccessKeyId", ""))
        signed = {k: v for k, v in query.items() if k != "Signature"}
        canonical = "&".join(f"{quote(k, safe='~')}={quote(signed[k], safe='~')}" for k in sorted(signed))
        to_sign = f"{request.method}&%2F&{quote_plus(canonical, safe='~')}"
        digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), query["Signature"]):
            raise AliyunError(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        self._check_fresh(query.get("Timestamp", ""), query.get("SignatureNonce", ""))
        return self._known_action(query.get("Action", ""), query.get("Version"))

    def _secret(self, key_id: str) -> str:
        secret = self.keys.get(key_id)
        if secret is None:
            raise AliyunError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def _check_fresh(self, stamp: str, nonce: str) -> None:
        try:
            at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise AliyunError(400, "InvalidTimeStamp.Format", "Specified time stamp is not well formatted.") from None
        if abs(self.wall.now() - at) > SKEW:
            raise AliyunError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not nonce:
            raise AliyunError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        if nonce in self._nonces:
            raise AliyunError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces.add(nonce)

    @staticmethod
    def _known_action(action: str, version: str | None) -> str:
        if action not in ACTIONS:
            raise AliyunError(404, "InvalidAction.NotFound", "Specified api is not found.")
        if version != VERSION:
            raise AliyunError(400, "InvalidVersion", "Specified parameter Version is not valid.")
        return action

    # --- SMS ---

    def _send_sms(self, params: dict[str, str]) -> dict[str, Any]:
        numbers = _required(params, "PhoneNumbers").split(",")
        sign, code = _required(params, "SignName"), _required(params, "TemplateCode")
        phones = []
        for number in numbers:
            match = _SMS_NUMBER.match(number.strip())
            if not match:
                raise Refused("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
            phones.append(match.group(1))
        if sign not in self.signs:
            raise Refused("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = self.sms_templates.get(code)
        if template is None:
            raise Refused("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        values = self._template_params(params.get("TemplateParam"), template.variables)
        if self.balance_empty:
            raise Refused("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
        now = self.clock.now()
        for phone in phones:
            sent = self._sms_sent.setdefault((sign, code, phone), deque())
            while sent and sent[0] <= now - timedelta(hours=24):
                sent.popleft()
            if len(sent) >= self.limits.sms_per_day:
                raise Refused("isv.BUSINESS_LIMIT_CONTROL", f"触发天级流控Permits:{self.limits.sms_per_day}")
        serial = next(self._ids)
        biz_id = f"{900000000000000000 + serial}^0"
        stamp = asyncio.get_running_loop().time()
        for phone in phones:
            self._sms_sent[(sign, code, phone)].append(now)
            content = f"【{sign}】{template.render(values)}"
            self.messages.append(
                Sms(biz_id, phone, sign, code, values, content, params.get("OutId"), now, request_at=stamp)
            )
        return {"Code": "OK", "Message": "OK", "BizId": biz_id}

    def _template_params(self, raw: str | None, variables: tuple[str, ...]) -> dict[str, str]:
        try:
            values = json.loads(raw) if raw else {}
        except ValueError:
            raise Refused("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量里包含非法关键字") from None
        if not isinstance(values, dict):
            raise Refused("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量里包含非法关键字")
        if set(variables) - set(values):
            raise Refused("isv.TEMPLATE_MISSING_PARAMS", "模板缺少变量")
        if set(values) - set(variables):
            raise Refused("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量里包含非法关键字")
        for value in values.values():
            if not isinstance(value, str | int) or _LINK.search(str(value)):
                raise Refused("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量里包含非法关键字")
            if len(str(value)) > VARIABLE_MAX:
                raise Refused("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        return {k: str(v) for k, v in values.items()}

    def _query_send_details(self, params: dict[str, str]) -> dict[str, Any]:
        phone = _required(params, "PhoneNumber")
        day = _required(params, "SendDate")
        size, page = int(_required(params, "PageSize")), int(_required(params, "CurrentPage"))
        if not re.fullmatch(r"\d{8}", day):
            raise Refused("isv.INVALID_PARAMETERS", "SendDate is yyyyMMdd")
        if not 1 <= size <= 50 or page < 1:
            raise Refused("isv.INVALID_PARAMETERS", "PageSize 1-50, CurrentPage from 1")
        match = _SMS_NUMBER.match(phone)
        if not match:
            raise Refused("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        biz_id = params.get("BizId")
        found = [
            m
            for m in self.messages
            if m.phone == match.group(1)
            and m.sent_at.astimezone(CHINA).strftime("%Y%m%d") == day
            and (not biz_id or m.biz_id == biz_id)
        ]
        chunk = found[(page - 1) * size : page * size]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(found),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [_detail(m) for m in chunk]},
        }

    # --- voice ---

    def _ivr_call(self, params: dict[str, str]) -> dict[str, Any]:
        show = _required(params, "CalledShowNumber")
        callee, start = self._callee(params), _required(params, "StartCode")
        if show not in self.show_numbers:
            # Not confirmed: the code Aliyun gives for a show number that is not the account's.
            raise Refused("isv.DISPLAY_NUMBER_ILLEGAL", "主叫号码不合法")
        start_params = self._tts_params(start, params.get("StartTtsParams"))
        menu = _menu(params)
        for item in menu:
            self._tts_params(item.get("Code", ""), item.get("TtsParams"))
        bye = params.get("ByeCode")
        if bye:
            self._tts_params(bye, params.get("ByeTtsParams"))
        play_times = int(params.get("PlayTimes") or 1)
        if not 1 <= play_times <= 3:
            raise Refused("isv.INVALID_PARAMETERS", "PlayTimes 1-3")
        timeout = int(params["Timeout"]) if params.get("Timeout") else None
        return self._place(IVR_CALL, callee, show, start, start_params, menu, bye, params, play_times, timeout)

    def _single_call_by_tts(self, params: dict[str, str]) -> dict[str, Any]:
        callee, code = self._callee(params), _required(params, "TtsCode")
        show = params.get("CalledShowNumber") or ""
        if show and show not in self.show_numbers:
            raise Refused("isv.DISPLAY_NUMBER_ILLEGAL", "主叫号码不合法")
        tts_params = self._tts_params(code, params.get("TtsParam"))
        play_times = int(params.get("PlayTimes") or 1)
        if not 1 <= play_times <= 3:
            raise Refused("isv.INVALID_PARAMETERS", "PlayTimes 1-3")
        return self._place(SINGLE_CALL_BY_TTS, callee, show, code, tts_params, [], None, params, play_times, None)

    def _callee(self, params: dict[str, str]) -> str:
        number = _required(params, "CalledNumber")
        if not _VOICE_NUMBER.match(number):
            raise Refused("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        return number

    def _tts_params(self, code: str, raw: str | None) -> dict[str, str]:
        template = self.tts_templates.get(code)
        if template is None:
            raise Refused("isv.TTS_TEMPLATE_ILLEGAL", f"TTS模板不存在: {code}")
        return self._template_params(raw, template.variables)

    def _place(
        self,
        action: str,
        callee: str,
        show: str,
        start: str,
        start_params: dict[str, str],
        menu: list[dict[str, str]],
        bye: str | None,
        params: dict[str, str],
        play_times: int,
        timeout: int | None,
    ) -> dict[str, Any]:
        if self.balance_empty:
            raise Refused("isv.AMOUNT_NOT_ENOUGH", "账户余额不足")
        now = self.clock.now()
        windows = self._voice_windows.setdefault(
            callee,
            [
                _Window(timedelta(minutes=1), self.limits.voice_per_minute),
                _Window(timedelta(hours=1), self.limits.voice_per_hour),
                _Window(timedelta(hours=24), self.limits.voice_per_day),
            ],
        )
        if any(w.full(now) for w in windows):
            raise Refused("isv.BUSINESS_LIMIT_CONTROL", "触发流控")
        for window in windows:
            window.add(now)  # every call placed counts, answered or not
        serial = next(self._ids)
        call_id = f"{116000000000 + serial}^{102000000000 + serial}"
        self.calls.append(
            Call(
                call_id,
                action,
                callee,
                show,
                start,
                start_params,
                menu,
                bye,
                params.get("OutId"),
                now,
                play_times,
                timeout,
            )
        )
        return {"Code": "OK", "Message": "OK", "CallId": call_id}

    def _query_call_detail(self, params: dict[str, str]) -> dict[str, Any]:
        call_id, prod = _required(params, "CallId"), _required(params, "ProdId")
        day = datetime.fromtimestamp(int(_required(params, "QueryDate")) / 1000, UTC).astimezone(CHINA).date()
        call = next((c for c in self.calls if c.call_id == call_id), None)
        # A call of another product or another day, or one still under way, has no record yet: Aliyun answers OK
        # with no Data (not confirmed whether it is null or absent; the SDK reads both as None).
        if call is None or call.prod_id != prod or call.placed_at.astimezone(CHINA).date() != day or not call.state:
            return {"Code": "OK", "Message": "OK"}
        data = {
            "caller": call.show_number,
            "callerShowNumber": call.show_number,
            "callee": call.callee,
            "calleeShowNumber": call.show_number,
            "gmtCreate": _local(call.placed_at),
            "startDate": _local(call.answered_at) if call.answered_at else None,
            "endDate": _local(call.ended_at) if call.ended_at else None,
            "duration": call.duration,
            "state": call.state,
            "stateDesc": _STATE_TEXT.get(call.state, ""),
        }
        return {"Code": "OK", "Message": "OK", "Data": json.dumps(data, ensure_ascii=False)}


_RPC_KEYS = {
    "Action",
    "Format",
    "Version",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "AccessKeyId",
    "Signature",
}


def _canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))


def _menu(params: dict[str, str]) -> list[dict[str, str]]:
    """MenuKeyMap as the SDK flattens it (MenuKeyMap.1.Key, MenuKeyMap.1.Code, …)."""
    items: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        match = re.fullmatch(r"MenuKeyMap\.(\d+)\.(\w+)", key)
        if match:
            items.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [items[i] for i in sorted(items)]


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise AliyunError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    return value


def _detail(sms: Sms) -> dict[str, Any]:
    # SmsSendDetailDTO as the SDK model reads it: no BizId in a detail, OutId is.
    return {
        "PhoneNum": sms.phone,
        "SendStatus": sms.status,
        "ErrCode": sms.err_code,
        "TemplateCode": sms.template,
        "Content": sms.content,
        "SendDate": _local(sms.sent_at),
        "ReceiveDate": _local(sms.received_at) if sms.received_at else "",
        "OutId": sms.out_id or "",
    }


def _national(number: str) -> str:
    """A number as Aliyun writes it back: 11 digits, no +86."""
    digits = re.sub(r"\D", "", number)
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _request_id(serial: int) -> str:
    return f"FAKE{serial:04d}-0000-4000-8000-{serial:012d}"


def _action(action: str | None) -> str | None:
    assert action is None or action in ACTIONS, f"unknown action {action!r}"
    return action


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"RequestId": _request_id(0), "HostId": "dysmsapi.aliyuncs.com", "Code": code, "Message": message}
    return web.json_response(body, status=status)
