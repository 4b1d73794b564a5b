"""A fake Tencent Cloud SMS (sms 2021-01-11) and VMS (vms 2020-09-02) server (aiohttp) for the official SDK to talk
HTTP to — as harsh as Tencent in production:

- it verifies TC3-HMAC-SHA256 as the SDK signs (CHANNELS.md §5.2): the service comes from the credential scope, the
  path `/?` the async client sends is `/`, and a timestamp more than 5 minutes off its signing clock (the wall
  clock by default: the SDK signs with `time.time()`) is `AuthFailure.SignatureExpire`. Errors come back as Tencent
  sends them — HTTP 200, `{"Response":{"Error":{Code,Message},"RequestId"}}`, Content-Type exactly
  `application/json` (`charset` switches on `; charset=utf-8`, with which the SDK silently returns an empty model);
- SendSms checks the app, sign, template and its variable count, refuses links in variables and (an individual
  account, `individual`) variables over 12 characters; the frequency limits (same content 1 per 30 s, 2 a natural
  Beijing day per number) answer *per number* in SendStatusSet, not as a top-level error, as Tencent does;
- PullSmsSendStatusByPhoneNumber answers from the receipts (a status exists only once reported: `report_lag` on the
  FakeClock, or `report`); PullSmsSendStatus is the queue, each status once;
- SendTtsVoice checks the voice app, template and variables, PlayTimes ≤ 3, the spoken content ≤ 350 characters and
  the per-callee limits (1 per 30 s, 2 per 10 min, 5 a Beijing day, 1 between 22:00 and 08:00 Beijing) —
  `LimitExceeded.DeliveryFrequencyLimit`, the only limit code VMS has;
- `fail_next` answers 5xx or drops the connection for the next requests (after acting, with `process`);
  `hang_next` answers late; `error_next` answers a top-level error (RequestLimitExceeded, InternalError, …);
  `faults` (`RandomFaults`) fails a share of sends at random, the benchmark's fault mode;
- it PUSHES to carevisit unsigned, as Tencent does, at `push_base`/<push type> (`sms_status`, `sms_reply`,
  `voiceprompt`, `voicekey`); the payload builders (`*_payload`) let a test send a push twice, never or out of
  order (`push`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from carevisit.care.clock import Clock, SystemClock
from tests.escalation.random_faults import FaultDice

SECRET_ID = "AKIDfakeTencentSecretId0000000000"
SECRET_KEY = "fakeTencentSecretKey0000000000000"
SMS_APP_ID = "1400000001"
VOICE_APP_ID = "1400000002"
SIGN_NAME = "关爱探访"
REGION = "ap-guangzhou"
SMS_VERSION = "2021-01-11"
VMS_VERSION = "2020-09-02"
BEIJING = ZoneInfo("Asia/Shanghai")

# Approved templates as the console holds them: id -> text with {1}, {2}, … (the count is what TemplateParamSet
# must match).
SMS_TEMPLATES = {
    "2480001": "{1}老人发生紧急情况（{2}），请尽快联系志愿者{3}，或打开 https://ack.example.cn/a 输入确认码{4}。",
    "2480002": "{1}老人的紧急情况已解除，感谢关注。",
    "2480003": "【第{1}次】{2}老人需要帮助，确认码{3}。",
}
VOICE_TEMPLATES = {
    "2580001": "您好，{1}老人发生紧急情况：{2}，志愿者{3}已在现场。确认收到请按1。",
    "2580002": "您好，{1}老人需要帮助，确认请按1。",
}

SKEW = timedelta(minutes=5)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_LINK = re.compile(r"(https?://|www\.|\b[a-z0-9-]+\.(cn|com|net|org|top|cc|me|io)\b)", re.IGNORECASE)
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z]+)/tc3_request, "
    r"SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
_COUNTRY_CODES = ("852", "853", "886", "86", "44", "81", "82", "65", "1")

SMS_ACTIONS = ("SendSms", "PullSmsSendStatus", "PullSmsSendStatusByPhoneNumber")
VMS_ACTIONS = ("SendTtsVoice",)


class TencentError(Exception):
    """Answered as Tencent's error JSON (HTTP 200)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SmsLimits:
    """Tencent SMS frequency limits per number (the console's defaults)."""

    same_content_window: timedelta = timedelta(seconds=30)
    per_day: int = 2  # a natural day, Beijing time
    same_content_per_day: int | None = None


@dataclass
class VoiceLimits:
    """Tencent VMS limits per callee for notifications (corrections #3: 5 a day)."""

    per_30s: int = 1
    per_10min: int = 2
    per_day: int = 5
    per_night: int = 1  # 22:00–08:00 Beijing


@dataclass
class Sms:
    serial_no: str
    to: str
    template_id: str
    params: list[str]
    content: str
    session_context: str
    created: datetime
    report_status: str | None = None  # SUCCESS | FAIL once the carrier reported
    errmsg: str = ""
    reported_at: datetime | None = None
    pulled: bool = False  # taken off the PullSmsSendStatus queue
    request_at: float = 0.0  # loop time the SendSms was acted on, for the benchmark


@dataclass
class Call:
    call_id: str
    to: str
    template_id: str
    params: list[str]
    session_context: str
    play_times: int
    created: datetime
    result: str | None = None  # "0" answered, "1" not answered, "2" failed
    keys: list[str] = field(default_factory=list)


@dataclass
class Failure:
    status: int = 500  # 0: drop the connection without an answer
    process: bool = False  # act first, then fail to say so
    hang: float = 0.0  # real seconds before answering (past the client's timeout)
    error: tuple[str, str] | None = None  # a top-level Tencent error instead
    service: str | None = None  # "sms" | "vms" | None (any)


SEND_ACTIONS = ("SendSms", "SendTtsVoice")


class RandomFaults(FaultDice):
    """A share of sends (SendSms, SendTtsVoice) fails at random: `error_rate` answered HTTP 500 without acting,
    `timeout_rate` acted on and answered only after `hang` seconds (past the client's timeout)."""

    def draw(self, action: str) -> Failure | None:
        fault = self.roll() if action in SEND_ACTIONS else None
        if fault == "error":
            return Failure(500)
        if fault == "timeout":
            return Failure(200, process=True, hang=self.hang)
        return None
        roll = self.rng.random()
        if roll < self.error_rate:
            self.injected["500"] += 1
            return Failure(500)
        if roll < self.error_rate + self.timeout_rate:
            self.injected["timeout"] += 1
            return Failure(200, process=True, hang=self.hang)
        return None


@dataclass(frozen=True)
class Push:
    """One unsigned POST to carevisit, as Tencent would send it (and may send again)."""

    push_type: str
    payload: Any


class FakeTencent:
    def __init__(
        self,
        clock: Clock,
        *,
        signing_clock: Clock | None = None,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        individual: bool = False,
        report_lag: timedelta | None = timedelta(seconds=10),
    ) -> None:
        self.clock = clock
        self.signing_clock = signing_clock or SystemClock()
        self.secrets = {secret_id: secret_key}
        self.sms_apps = {SMS_APP_ID}
        self.voice_apps = {VOICE_APP_ID}
        self.signs = {SIGN_NAME}
        self.sms_templates = dict(SMS_TEMPLATES)
        self.voice_templates = dict(VOICE_TEMPLATES)
        self.individual = individual
        self.sms_limits = SmsLimits()
        self.voice_limits = VoiceLimits()
        self.report_lag = report_lag
        self.charset = False  # True: answer `application/json; charset=utf-8` (the SDK then sees an empty model)
        self.push_base: str | None = None  # carevisit's /pager/tencent/<secret>
        self.sms: list[Sms] = []
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.faults: RandomFaults | None = None
        self.requests: list[tuple[str, str]] = []  # (service, action) of every request that passed the signature
        self.refusals: list[str] = []  # every error code answered, in order
        self.pushes: list[tuple[Push, int, str]] = []  # every push delivered, with our answer
        self._ids = itertools.count(1)
        self.server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None

    # --- running ---

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self._http = aiohttp.ClientSession()
        return self.endpoint

    @property
    def endpoint(self) -> str:
        """host:port, as the SDK's HttpProfile(endpoint=…) wants it."""
        assert self.server is not None
        return f"{self.server.host}:{self.server.port}"

    async def close(self) -> None:
        if self._http:
            await self._http.close()
        if self.server:
            await self.server.close()

    # --- what tests look at ---

    def sms_to(self, number: str) -> list[Sms]:
        return [s for s in self.sms if s.to == number]

    def calls_to(self, number: str) -> list[Call]:
        return [c for c in self.calls if c.to == number]

    def get_sms(self, serial_no: str) -> Sms:
        return next(s for s in self.sms if s.serial_no == serial_no)

    def get_call(self, call_id: str) -> Call:
        return next(c for c in self.calls if c.call_id == call_id)

    # --- failures ---

    def fail_next(
        self, status: int = 500, *, times: int = 1, process: bool = False, service: str | None = None
    ) -> None:
        """The next `times` requests answer HTTP `status` (0: the connection is dropped without an answer)."""
        self.failures.extend(Failure(status, process, service=service) for _ in range(times))

    def hang_next(self, seconds: float, *, process: bool = True, service: str | None = None) -> None:
        """Hold the next answer `seconds`; with `process` Tencent acted at once and answers success late."""
        self.failures.append(Failure(200, process, hang=seconds, service=service))

    def error_next(self, code: str, message: str = "", *, process: bool = False, service: str | None = None) -> None:
        """The next request answers a top-level Tencent error (RequestLimitExceeded, InternalError, …)."""
        self.failures.append(Failure(200, process, error=(code, message or code), service=service))

    # --- the carrier's side ---

    def report(self, serial_no: str, status: str = "SUCCESS", *, errmsg: str | None = None) -> Sms:
        """The carrier reports an SMS (no push: see `sms_status_payload`/`push`, or `deliver_report`)."""
        assert status in ("SUCCESS", "FAIL")
        sms = self.get_sms(serial_no)
        sms.report_status = status
        sms.errmsg = errmsg if errmsg is not None else ("DELIVRD" if status == "SUCCESS" else "MK:0001")
        sms.reported_at = self.clock.now()
        return sms

    async def deliver_report(self, serial_no: str, status: str = "SUCCESS", *, errmsg: str | None = None) -> int:
        self.report(serial_no, status, errmsg=errmsg)
        return (await self.push(Push("sms_status", self.sms_status_payload(serial_no))))[0]

    async def answer(self, call_id: str, *, key: str | None) -> list[int]:
        """The callee answers; presses `key` if given (voicekey), then hangs up (voiceprompt result 0)."""
        call = self.get_call(call_id)
        call.result = "0"
        answers = []
        if key is not None:
            call.keys.append(key)
            answers.append((await self.push(Push("voicekey", self.voicekey_payload(call_id, key))))[0])
        answers.append((await self.push(Push("voiceprompt", self.voiceprompt_payload(call_id))))[0])
        return answers

    async def no_answer(self, call_id: str, *, result: str = "1") -> int:
        """The callee does not answer (result 1) or the call fails (result 2)."""
        self.get_call(call_id).result = result
        return (await self.push(Push("voiceprompt", self.voiceprompt_payload(call_id))))[0]

    async def reply(self, sender: str, text: str) -> int:
        return (await self.push(Push("sms_reply", self.sms_reply_payload(sender, text))))[0]

    # --- push payloads, as the Tencent docs show them (382/5807, 382/5809, 1128/37725, 216/37726) ---

    def sms_status_payload(self, *serial_nos: str) -> list[dict[str, str]]:
        payload = []
        for serial_no in serial_nos:
            sms = self.get_sms(serial_no)
            assert sms.report_status, "report the SMS first"
            nation, mobile = split_e164(sms.to)
            payload.append(
                {
                    "user_receive_time": _beijing(sms.reported_at or self.clock.now()),
                    "nationcode": nation,
                    "mobile": mobile,
                    "report_status": sms.report_status,
                    "errmsg": sms.errmsg,
                    "description": "用户短信送达成功" if sms.report_status == "SUCCESS" else "用户短信接收失败",
                    "sid": sms.serial_no,
                }
            )
        return payload

    def sms_reply_payload(self, sender: str, text: str) -> dict[str, Any]:
        nation, mobile = split_e164(sender)
        return {
            "extend": "",
            "mobile": mobile,
            "nationcode": nation,
            "sign": SIGN_NAME,
            "text": text,
            "time": int(self.clock.now().timestamp()),
        }

    def voiceprompt_payload(self, call_id: str, *, result: str | None = None) -> dict[str, Any]:
        call = self.get_call(call_id)
        nation, mobile = split_e164(call.to)
        start = int(call.created.timestamp())
        now = int(self.clock.now().timestamp())
        outcome = result or call.result or "1"
        return {
            "voiceprompt_callback": {
                "result": outcome,
                "accept_time": str(now) if outcome == "0" else "0",
                "call_from": "",
                "callid": call.call_id,
                "end_calltime": str(now),
                "fee": "1" if outcome == "0" else "0",
                "mobile": mobile,
                "nationcode": nation,
                "start_calltime": str(start),
            }
        }

    def voicekey_payload(self, call_id: str, key: str, *, to: str | None = None) -> dict[str, Any]:
        """A key press on `call_id` (a forged one may name a call that never was, or another number: `to`)."""
        known = next((c for c in self.calls if c.call_id == call_id), None)
        nation, mobile = split_e164(to or (known.to if known else "+8613800000000"))
        return {
            "voicekey_callback": {
                "call_from": "",
                "callid": call_id,
                "keypress": key,
                "mobile": mobile,
                "nationcode": nation,
            }
        }

    async def push(self, push: Push, *, times: int = 1, base: str | None = None) -> list[int]:
        """POST a push (unsigned, JSON) `times` times to `base or push_base`/<type>; our answers' statuses."""
        assert self._http is not None
        target = (base or self.push_base or "").rstrip("/")
        assert target, "set push_base to carevisit's /pager/tencent/<secret>"
        statuses = []
        for _ in range(times):
            data = json.dumps(push.payload, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json"}
            async with self._http.post(f"{target}/{push.push_type}", data=data, headers=headers) as response:
                text = await response.text()
            self.pushes.append((push, response.status, text))
            statuses.append(response.status)
        return statuses

    # --- the API ---

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        body = await request.read()
        try:
            service, action = self._authenticate(request, body)
            self.requests.append((service, action))
            params = _json_body(body)
            failure = self._failure_for(service, action)
            if failure is not None and not failure.process:
                return await self._fail(request, failure, request_id)
            answer = await self._act(service, action, params)
            if failure is not None:
                return await self._fail(request, failure, request_id, answer)
        except TencentError as error:
            self.refusals.append(error.code)
            answer = {"Error": {"Code": error.code, "Message": error.message}}
        return self._json(answer, request_id)

    def _json(self, answer: dict[str, Any], request_id: str, status: int = 200) -> web.Response:
        body = json.dumps({"Response": {**answer, "RequestId": request_id}}, ensure_ascii=False).encode()
        content_type = "application/json; charset=utf-8" if self.charset else "application/json"
        return web.Response(body=body, status=status, headers={"Content-Type": content_type})

    def _failure_for(self, service: str, action: str) -> Failure | None:
        failure = next((f for f in self.failures if f.service in (None, service)), None)
        if failure is not None:
            self.failures.remove(failure)
        elif self.faults is not None:
            failure = self.faults.draw(action)
        return failure

    async def _fail(
        self, request: web.Request, failure: Failure, request_id: str, answer: dict[str, Any] | None = None
    ) -> web.StreamResponse:
        if failure.hang:
            await asyncio.sleep(failure.hang)
        if failure.error is not None:
            self.refusals.append(failure.error[0])
            return self._json({"Error": {"Code": failure.error[0], "Message": failure.error[1]}}, request_id)
        if failure.status == 0:
            assert request.transport is not None
            request.transport.close()  # the connection drops: no answer at all
            return web.Response()
        if failure.status != 200:
            return web.Response(status=failure.status, text="<html>502 Bad Gateway</html>", content_type="text/html")
        return self._json(answer or {}, request_id)

    def _authenticate(self, request: web.Request, body: bytes) -> tuple[str, str]:
        """Verify TC3-HMAC-SHA256 as the SDK signs; the service and the action."""
        header = request.headers.get("Authorization", "")
        match = _AUTH.match(header)
        if not match:
            raise TencentError("AuthFailure.InvalidAuthorization", "Authorization header is malformed.")
        secret = self.secrets.get(match["id"])
        if secret is None:
            raise TencentError("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            timestamp = int(request.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            raise TencentError("MissingParameter", "X-TC-Timestamp is missing.") from None
        signed_at = datetime.fromtimestamp(timestamp, UTC)
        if abs(self.signing_clock.now() - signed_at) > SKEW:
            raise TencentError("AuthFailure.SignatureExpire", "The signature expired: the timestamp is off by > 5 min.")
        service, date = match["service"], match["date"]
        if date != signed_at.strftime("%Y-%m-%d"):
            raise TencentError("AuthFailure.SignatureFailure", "The credential date does not match X-TC-Timestamp.")
        names = match["headers"].split(";")
        if "content-type" not in names or "host" not in names:
            raise TencentError("AuthFailure.SignatureFailure", "SignedHeaders must include content-type and host.")
        canonical_headers = "".join(f"{name}:{request.headers.get(name, '').strip().lower()}\n" for name in names)
        # The async client sends `/?`: the canonical URI is `/`, the query (empty for a POST) is what follows `?`.
        canonical = "\n".join(
            [
                request.method,
                request.rel_url.path or "/",
                request.rel_url.raw_query_string,
                canonical_headers,
                match["headers"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        string_to_sign = "\n".join(
            [
                "TC3-HMAC-SHA256",
                str(timestamp),
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        expected = tc3_signature(secret, date, service, string_to_sign)
        if not hmac.compare_digest(expected, match["signature"]):
            raise TencentError(
                "AuthFailure.SignatureFailure", "The provided credentials could not be validated. Check your signature."
            )
        action = request.headers.get("X-TC-Action", "")
        version = request.headers.get("X-TC-Version", "")
        actions, wanted = (SMS_ACTIONS, SMS_VERSION) if service == "sms" else (VMS_ACTIONS, VMS_VERSION)
        if service not in ("sms", "vms") or action not in actions:
            raise TencentError("InvalidAction", f"The action {action} of {service} does not exist.")
        if version != wanted:
            raise TencentError("NoSuchVersion", f"The API version {version} of {service} does not exist.")
        if request.headers.get("Content-Type") != "application/json":
            raise TencentError("InvalidParameter", "Content-Type must be application/json.")
        return service, action

    async def _act(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "SendSms":
            return self._send_sms(params)
        if action == "PullSmsSendStatusByPhoneNumber":
            return self._pull_by_number(params)
        if action == "PullSmsSendStatus":
            return self._pull_queue(params)
        return self._send_tts_voice(params)

    # --- SMS ---

    def _send_sms(self, params: dict[str, Any]) -> dict[str, Any]:
        numbers = params.get("PhoneNumberSet") or []
        if not numbers:
            raise TencentError("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty.")
        if len(numbers) > 200:
            raise TencentError("LimitExceeded.PhoneNumberCountLimit", "More than 200 numbers in one request.")
        if params.get("SmsSdkAppId") not in self.sms_apps:
            raise TencentError("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        if params.get("SignName") not in self.signs:
            raise TencentError("FailedOperation.SignatureIncorrectOrUnapproved", "The signature is not approved.")
        text = self.sms_templates.get(str(params.get("TemplateId")))
        if text is None:
            raise TencentError("FailedOperation.TemplateIncorrectOrUnapproved", "The template is not approved.")
        values = [str(v) for v in params.get("TemplateParamSet") or []]
        self._check_variables(text, values)
        content = f"【{params['SignName']}】" + _fill(text, values)
        if len(content) > 500:
            raise TencentError("InvalidParameterValue.ContentLengthLimit", "The content exceeds 500 characters.")
        context = str(params.get("SessionContext") or "")
        statuses = [self._send_one(str(n), str(params["TemplateId"]), values, content, context) for n in numbers]
        return {"SendStatusSet": statuses}

    def _check_variables(self, text: str, values: list[str]) -> None:
        if len(values) != _count(text):
            raise TencentError(
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
                f"The template takes {_count(text)} variables, {len(values)} were given.",
            )
        if any(_LINK.search(v) for v in values):
            raise TencentError(
                "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", "A template variable may not hold a URL."
            )
        if self.individual and any(len(v) > 12 for v in values):
            raise TencentError(
                "InvalidParameterValue.TemplateParameterLengthLimit",
                "An individual account's variable holds at most 12 characters.",
            )

    def _send_one(self, to: str, template_id: str, values: list[str], content: str, context: str) -> dict[str, Any]:
        nation = split_e164(to)[0] if _E164.match(to) else ""
        status = {"PhoneNumber": to, "Fee": 0, "SessionContext": context, "IsoCode": "CN" if nation == "86" else ""}
        code = "InvalidParameterValue.IncorrectPhoneNumber" if not _E164.match(to) else self._sms_limit(to, content)
        if code:
            self.refusals.append(code)
            return status | {"SerialNo": "", "Code": code, "Message": _LIMIT_MESSAGES.get(code, code)}
        now = self.clock.now()
        sms = Sms(
            f"{next(self._ids):04d}:{uuid.uuid4().int % 10**20:020d}",
            to,
            template_id,
            values,
            content,
            context,
            now,
            request_at=asyncio.get_running_loop().time(),
        )
        self.sms.append(sms)
        return status | {"SerialNo": sms.serial_no, "Fee": 1, "Code": "Ok", "Message": "send success"}

    def _sms_limit(self, to: str, content: str) -> str | None:
        now = self.clock.now()
        sent = self.sms_to(to)
        same = [s for s in sent if s.content == content]
        if any(now - s.created < self.sms_limits.same_content_window for s in same):
            return "LimitExceeded.PhoneNumberThirtySecondLimit"
        today = [s for s in sent if _beijing_day(s.created) == _beijing_day(now)]
        if len(today) >= self.sms_limits.per_day:
            return "LimitExceeded.PhoneNumberDailyLimit"
        cap = self.sms_limits.same_content_per_day
        if cap is not None and len([s for s in today if s.content == content]) >= cap:
            return "LimitExceeded.PhoneNumberSameContentDailyLimit"
        return None

    def _reported(self) -> list[Sms]:
        """The SMS with a receipt by now (an unreported one past `report_lag` was delivered)."""
        now = self.clock.now()
        for sms in self.sms:
            if sms.report_status is None and self.report_lag is not None and now - sms.created >= self.report_lag:
                self.report(sms.serial_no, "SUCCESS")
                sms.reported_at = sms.created + self.report_lag
        return sorted((s for s in self.sms if s.report_status), key=lambda s: s.reported_at or s.created)

    def _pull_by_number(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("SmsSdkAppId") not in self.sms_apps:
            raise TencentError("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        limit, offset = _int(params, "Limit"), _int(params, "Offset")
        begin, end = _int(params, "BeginTime"), params.get("EndTime")
        if not 0 < limit <= 100:
            raise TencentError("InvalidParameterValue.LimitVerifyFail", "Limit must be 1 to 100.")
        if offset < 0:
            raise TencentError("InvalidParameterValue.OffsetVerifyFail", "Offset must not be negative.")
        now = int(self.clock.now().timestamp())
        if begin <= 0 or begin > now:
            raise TencentError("InvalidParameterValue.BeginTimeVerifyFail", "BeginTime is not a past unix time.")
        until = int(end) if end is not None else now
        if until < begin:
            raise TencentError("InvalidParameterValue.EndTimeVerifyFail", "EndTime is before BeginTime.")
        number = str(params.get("PhoneNumber") or "")
        found = [s for s in self._reported() if s.to == number and begin <= int(s.created.timestamp()) <= until]
        return {"PullSmsSendStatusSet": [_pull_status(s) for s in found[offset : offset + limit]]}

    def _pull_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("SmsSdkAppId") not in self.sms_apps:
            raise TencentError("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verification failed.")
        limit = _int(params, "Limit")
        if not 0 < limit <= 100:
            raise TencentError("InvalidParameterValue.LimitVerifyFail", "Limit must be 1 to 100.")
        taken = [s for s in self._reported() if not s.pulled][:limit]
        for sms in taken:
            sms.pulled = True
        return {"PullSmsSendStatusSet": [_pull_status(s) for s in taken]}

    # --- voice ---

    def _send_tts_voice(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("VoiceSdkAppid") not in self.voice_apps:
            raise TencentError("UnauthorizedOperation.VoiceSdkAppidVerifyFail", "VoiceSdkAppid verification failed.")
        template_id = str(params.get("TemplateId") or "")
        text = self.voice_templates.get(template_id)
        values = [str(v) for v in params.get("TemplateParamSet") or []]
        if text is None or len(values) != _count(text):
            raise TencentError(
                "FailedOperation.TemplateIncorrectOrUnapproved",
                "The template is not approved or the request does not match the approved template.",
            )
        to = str(params.get("CalledNumber") or "")
        if not _E164.match(to):
            raise TencentError("InvalidParameterValue.CalledNumberVerifyFail", "CalledNumber is not a valid number.")
        play_times = int(params.get("PlayTimes", 2))
        if not 1 <= play_times <= 3:
            raise TencentError("FailedOperation.InvalidParameters", "PlayTimes must be 1 to 3.")
        if len(_fill(text, values)) > 350:
            raise TencentError("InvalidParameterValue.ContentLengthLimit", "The spoken content exceeds 350 characters.")
        rule = self._voice_limit(to)
        if rule:
            raise TencentError("LimitExceeded.DeliveryFrequencyLimit", f"Frequency limit hit for the callee: {rule}.")
        call = Call(
            call_id=f"{uuid.uuid4().hex[:8]}-{next(self._ids):04d}",
            to=to,
            template_id=template_id,
            params=values,
            session_context=str(params.get("SessionContext") or ""),
            play_times=play_times,
            created=self.clock.now(),
        )
        self.calls.append(call)
        return {"SendStatus": {"CallId": call.call_id, "SessionContext": call.session_context}}

    def _voice_limit(self, to: str) -> str | None:
        now = self.clock.now()
        placed = [c.created for c in self.calls_to(to)]
        limits = self.voice_limits
        if len([t for t in placed if now - t < timedelta(seconds=30)]) >= limits.per_30s:
            return "1 per 30 s"
        if len([t for t in placed if now - t < timedelta(minutes=10)]) >= limits.per_10min:
            return "2 per 10 min"
        if len([t for t in placed if _beijing_day(t) == _beijing_day(now)]) >= limits.per_day:
            return f"{limits.per_day} a day"
        night = _night_of(now)
        if night is not None and len([t for t in placed if _night_of(t) == night]) >= limits.per_night:
            return "1 a night (22:00-08:00)"
        return None


_LIMIT_MESSAGES = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number received the same content within 30 seconds",
    "LimitExceeded.PhoneNumberDailyLimit": "the number reached its daily limit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "the number reached its same-content daily limit",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number",
}


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """TC3-HMAC-SHA256, written from Tencent's signing document (not the SDK's code)."""

    def mac(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signing_key = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def split_e164(number: str) -> tuple[str, str]:
    """(nationcode, national number) of an E.164 number, as Tencent's pushes carry it."""
    digits = number.lstrip("+")
    code = next((c for c in _COUNTRY_CODES if digits.startswith(c)), digits[:2])
    return code, digits[len(code) :]


def _pull_status(sms: Sms) -> dict[str, Any]:
    nation, mobile = split_e164(sms.to)
    return {
        "UserReceiveTime": int((sms.reported_at or sms.created).timestamp()),
        "CountryCode": nation,
        "SubscriberNumber": mobile,
        "PhoneNumber": sms.to,
        "SerialNo": sms.serial_no,
        "ReportStatus": sms.report_status,
        "Description": sms.errmsg,
        "SessionContext": sms.session_context,
    }


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise TencentError("FailedOperation.JsonParseFail", "The request body is not JSON.") from None
    if not isinstance(data, dict):
        raise TencentError("FailedOperation.JsonParseFail", "The request body is not a JSON object.")
    return data


def _int(params: dict[str, Any], name: str) -> int:
    try:
        return int(params.get(name, 0))
    except (TypeError, ValueError):
        raise TencentError("InvalidParameter", f"{name} must be an integer.") from None


def _count(text: str) -> int:
    return len(set(re.findall(r"\{(\d+)\}", text)))


def _fill(text: str, values: list[str]) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: values[int(m.group(1)) - 1], text)


def _beijing(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _beijing_day(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d")


def _night_of(moment: datetime) -> str | None:
    """The night (22:00–08:00 Beijing) a moment falls in, named by its evening's date; None by day."""
    local = moment.astimezone(BEIJING)
    if local.hour >= 22:
        return local.strftime("%Y-%m-%d")
    if local.hour < 8:
        return (local - timedelta(days=1)).strftime("%Y-%m-%d")
    return None
