"""The Aliyun adapter of the pager port: SMS through dysmsapi, calls through dyvmsapi (both 2017-05-25), with the
official async SDKs (`pip install 'carevisit[aliyun]'`). The SDKs are imported when a pager is made, not when this
module is: `available()` says whether they are installed.

What it sends is an approved template (`pager_templates`), never text: SendSms with the sign and TemplateCode and
the kind's variables as TemplateParam; IvrCall (press `ack_key` to acknowledge, MenuKeyMap) for a script that
listens for a key, SingleCallByTts for one that does not. OutId carries our outbox row's id, so a receipt finds its
row even before the send's answer came back. The SDKs' own retries are off: Aliyun has no idempotency key, and a
retry after a timeout may page twice.

Errors in the port's three kinds:

- `isv.BUSINESS_LIMIT_CONTROL` (the provider's frequency limit) is `PermanentError(code="limit")`: the outbox
  records the page refused and the chain moves on; it is never retried blindly;
- a connection that could not be made is `NotProcessed`; a timeout, a reset connection or a 5xx is
  `TemporaryError` (Aliyun may have acted);
- anything else Aliyun refuses (number, sign, template, balance, credentials) is `PermanentError` with Aliyun's
  code; account and credential problems are logged at ERROR (never with the number).

Looking up what became of a page, for crash recovery (`outbox` reconciliation):

- SMS: Aliyun looks a message up only by number and day (QuerySendDetails), never by BizId alone. So the sid
  `send_sms` returns carries the number — sealed, so a log line or the timeline never shows it: `<BizId>~<sealed>`
  (under 40 characters; the outbox's sid column holds 64 and is unique, as a BizId is). `lookup` unseals it and
  asks for today and yesterday (China dates) with the BizId. A message `find_recent` finds has no BizId (a
  QuerySendDetails record carries none): its sid is `<OutId>@<send time>~<sealed>`, which `lookup` can read too,
  and its `reference` is the OutId, which is how the outbox knows it as its own. A receipt (SmsReport) names the
  BizId, so after such a reconciliation it matches its row only by OutId.
- Voice: QueryCallDetailByCallId answers for a CallId, a product (IVR or TTS) and the day of the call; `lookup`
  tries both products, today and yesterday. Its record says whether the call was answered and by whom, never which
  key (`confirms_calls`: a pushed key press is believed only once this confirms the call was answered by the
  callee we paged). A call with no record yet (still ringing, or the record not written) is a `TemporaryError`:
  Aliyun never says "no such call".
- Aliyun has no list of calls by number: `find_recent(VOICE)` is empty, so a call whose answer was lost (a timeout
  after IvrCall) cannot be found again by number — reconciliation then sees "no trace" and places it again once
  the outbox's settle time has passed. A rare second call beats a lost emergency page, and Aliyun's 1-a-minute
  limit refuses a second call that comes too soon.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.util
import json
import logging
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from carevisit.care.clock import Clock, SystemClock
from carevisit.care.phones import InvalidPhone, mask_phone, parse_phone
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import (
    NotProcessed,
    PagerError,
    PermanentError,
    ProviderRecord,
    Sent,
    Signal,
    TemporaryError,
)
from carevisit.escalation.pager_templates import MissingTemplate, PagerTemplates, Template
from carevisit.storage.enums import Channel, DeliveryStatus

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
PROD_IVR = "11000000300005"
PROD_TTS = "11010000138001"
LIMIT = "isv.BUSINESS_LIMIT_CONTROL"
# Refusals that are about our account, not about one page: an operator must act.
ACCOUNT_CODES = frozenset(
    {
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.SMS_SIGNATURE_ILLEGAL",
        "isv.SMS_TEMPLATE_ILLEGAL",
        "isv.TTS_TEMPLATE_ILLEGAL",
        "isv.DISPLAY_NUMBER_ILLEGAL",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
        "isv.PRODUCT_UN_SUBSCRIPT",
        "isp.RAM_PERMISSION_DENY",
        "Forbidden.RAM",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "IncompleteSignature",
    }
)
# Refused before anything was done, and likely to pass on a later try (a clock off, flow control at the gateway).
NOT_PROCESSED_CODES = frozenset({"InvalidTimeStamp.Expired", "SignatureNonceUsed", "Throttling", "Throttling.User"})

# QuerySendDetails' SendStatus.
SMS_STATUSES = {1: DeliveryStatus.SENT, 2: DeliveryStatus.UNDELIVERED, 3: DeliveryStatus.DELIVERED}
# The ISP's call states (Aliyun's 运营商回执 codes), as the final record and the query API give them.
ANSWERED_STATES = frozenset({"200000", "200001", "200008"})  # listened; hung up early; answered, no key
CALL_STATES = {
    "200002": DeliveryStatus.BUSY,
    "200003": DeliveryStatus.NO_ANSWER,
    "200113": DeliveryStatus.NO_ANSWER,
    "200112": DeliveryStatus.BUSY,
}
# VoiceCallReport's states while a call is under way: 300000 carries a key press.
IN_CALL_STATES = frozenset({"300000", "200103"})


def available() -> bool:
    """Whether the Aliyun SDKs (the `aliyun` extra) are installed."""
    names = ("alibabacloud_dysmsapi20170525", "alibabacloud_dyvmsapi20170525", "alibabacloud_tea_openapi")
    return all(importlib.util.find_spec(name) is not None for name in names)


class AliyunPager:
    name = "aliyun"
    push_types = ("SmsReport", "SmsUp", "VoiceCallReport", "VoiceReport")
    confirms_calls = True

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        templates: PagerTemplates,
        sms_endpoint: str | None = None,
        voice_endpoint: str | None = None,
        called_show_number: str | None = None,
        timeout: float = 15.0,
        clock: Clock | None = None,
        play_times: int = 2,
        key_timeout_ms: int = 10_000,
    ) -> None:
        """Make the pager inside the running loop. Endpoints are `host[:port]`; a loopback one is spoken to over
        plain HTTP (a test's fake), anything else over HTTPS."""
        if not available():
            raise RuntimeError("the Aliyun pager needs its SDKs: pip install 'carevisit[aliyun]'")
        from alibabacloud_dysmsapi20170525.client import Client as SmsClient
        from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient

        self.sign_name = sign_name
        self.templates = templates
        self.called_show_number = called_show_number
        self.timeout = timeout
        self.clock = clock or SystemClock()
        self.play_times = max(1, min(3, play_times))
        self.key_timeout_ms = key_timeout_ms
        self._secret = access_key_secret.encode()
        self._sms = SmsClient(
            _config(access_key_id, access_key_secret, sms_endpoint or "dysmsapi.aliyuncs.com", timeout)
        )
        self._voice = VoiceClient(
            _config(access_key_id, access_key_secret, voice_endpoint or "dyvmsapi.aliyuncs.com", timeout)
        )

    # --- sending ---

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        from alibabacloud_dysmsapi20170525 import models

        template = self._template("sms", notice.kind)
        phone = _mainland(to)
        request = models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=template.sign_name or self.sign_name,
            template_code=template.template,
            template_param=_json(self._params(template, notice.params)),
            out_id=callbacks.reference,
        )
        body = await self._call(self._sms.send_sms_with_options_async, request, to)
        return Sent(self._sms_sid(body.biz_id, phone), DeliveryStatus.SENT)

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        from alibabacloud_dyvmsapi20170525 import models

        template = self._template("voice", script.kind)
        callee, params = _mainland(to), _json(self._params(template, script.params))
        if script.ack_key:
            if not template.ack_template:
                raise PermanentError(f"{template.entry} has no ack_template for IvrCall", code="no_template")
            request: Any = models.IvrCallRequest(
                called_show_number=self.called_show_number,
                called_number=callee,
                start_code=template.template,
                start_tts_params=params,
                menu_key_map=[models.IvrCallRequestMenuKeyMap(key=script.ack_key, code=template.ack_template)],
                play_times=self.play_times,
                timeout=self.key_timeout_ms,
                bye_code=template.bye_template,
                out_id=callbacks.reference,
            )
            body = await self._call(self._voice.ivr_call_with_options_async, request, to)
        else:
            request = models.SingleCallByTtsRequest(
                called_show_number=self.called_show_number,
                called_number=callee,
                tts_code=template.template,
                tts_param=params,
                play_times=self.play_times,
                out_id=callbacks.reference,
            )
            body = await self._call(self._voice.single_call_by_tts_with_options_async, request, to)
        return Sent(str(body.call_id), DeliveryStatus.QUEUED)

    def _template(self, channel: str, kind: str) -> Template:
        try:
            return self.templates.find("aliyun", channel, kind)
        except MissingTemplate as error:
            raise PermanentError(str(error), code="no_template") from None

    @staticmethod
    def _params(template: Template, params: dict[str, str]) -> dict[str, str]:
        try:
            return template.named(params)
        except KeyError as missing:
            raise PermanentError(f"{template.entry} needs {missing}", code="missing_param") from None

    async def _call(self, method: Any, request: Any, to: str) -> Any:
        """One SDK call, no retry, in our three kinds of error; the answer's body when Aliyun said OK."""
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
        from darabonba.exceptions import UnretryableException
        from darabonba.runtime import RuntimeOptions

        runtime = RuntimeOptions(autoretry=False, max_attempts=0)
        try:
            async with asyncio.timeout(self.timeout + 1):
                response = await method(request, runtime)
        except ThrottlingException as error:  # flow control at Aliyun's gateway: nothing was done
            raise NotProcessed("Aliyun throttled the request", code=(error.code or "Throttling")[:32]) from None
        except AlibabaCloudException as error:
            raise _refused(error.code or "", error.status_code or 0, to) from None
        except UnretryableException as error:
            raise _transport(error.inner_exception) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise _transport(error) from None
        body = response.body
        if body is None or body.code != "OK":
            raise _refused(getattr(body, "code", None) or "NoAnswer", 200, to)
        return body

    # --- sids that carry what a lookup needs ---

    def _sms_sid(self, left: str, phone: str) -> str:
        return f"{left}~{self._seal(left, phone)}"

    def _seal(self, left: str, digits: str) -> str:
        pad = self._pad(left, len(digits))
        return "".join(str((int(d) + p) % 10) for d, p in zip(digits, pad, strict=True))

    def _unseal(self, left: str, sealed: str) -> str:
        pad = self._pad(left, len(sealed))
        return "".join(str((int(d) - p) % 10) for d, p in zip(sealed, pad, strict=True))

    def _pad(self, left: str, length: int) -> list[int]:
        digest = hmac.new(self._secret, left.encode(), hashlib.sha256).digest()
        return [b % 10 for b in digest[:length]]

    # --- looking up ---

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        if channel == Channel.SMS:
            return await self._lookup_sms(sid)
        return await self._lookup_call(sid)

    async def _lookup_sms(self, sid: str) -> ProviderRecord | None:
        left, _, sealed = sid.rpartition("~")
        if not left or not sealed.isdigit():
            raise PermanentError("not an Aliyun SMS sid", code="bad_sid")
        phone = self._unseal(left, sealed)
        if not re.fullmatch(r"1[3-9]\d{9}", phone):
            raise PermanentError("not an Aliyun SMS sid of ours", code="bad_sid")
        if "^" in left:  # <BizId>~<sealed>
            for day in self._recent_days(2):
                for detail in await self._details(phone, day, biz_id=left):
                    return self._sms_record(detail, sid=sid)
            return None
        out_id, _, stamp = left.partition("@")  # <OutId>@<yyyymmddHHMMSS>~<sealed>
        moment = _parse_stamp(stamp)
        for detail in await self._details(phone, moment.date()):
            if (detail.out_id or "") == out_id and _local_time(detail.send_date) == moment:
                return self._sms_record(detail, sid=sid)
        return None

    async def _lookup_call(self, sid: str) -> ProviderRecord | None:
        from alibabacloud_dyvmsapi20170525 import models

        for day in self._recent_days(2):
            stamp = int(datetime.combine(day, datetime.min.time(), CHINA).timestamp() * 1000) + 12 * 3600 * 1000
            for prod in (PROD_IVR, PROD_TTS):
                request = models.QueryCallDetailByCallIdRequest(call_id=sid, prod_id=prod, query_date=stamp)
                body = await self._call(self._voice.query_call_detail_by_call_id_with_options_async, request, "")
                if body.data:
                    return _call_record(sid, body.data)
        raise TemporaryError("Aliyun has no record of the call yet", code="no_record_yet")

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        if channel != Channel.SMS:
            return []  # Aliyun lists no calls by number (see the module's docstring)
        phone = _mainland(to)
        first = since.astimezone(CHINA).date()
        records = []
        for day in self._days_from(first):
            for detail in await self._details(phone, day):
                sent = _local_time(detail.send_date)
                if sent is not None and sent < since:
                    continue
                left = f"{detail.out_id or ''}@{sent.strftime('%Y%m%d%H%M%S') if sent else ''}"
                records.append(self._sms_record(detail, sid=self._sms_sid(left, phone), to=to))
        return records

    async def _details(self, phone: str, day: date, *, biz_id: str | None = None) -> list[Any]:
        """Every QuerySendDetails record for a number on a (China) day, page by page (50 a page at most)."""
        from alibabacloud_dysmsapi20170525 import models

        found: list[Any] = []
        page = 1
        while True:
            request = models.QuerySendDetailsRequest(
                phone_number=phone, send_date=day.strftime("%Y%m%d"), page_size=50, current_page=page, biz_id=biz_id
            )
            body = await self._call(self._sms.query_send_details_with_options_async, request, "")
            dtos = body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
            found.extend(dtos or [])
            if not dtos or len(found) >= int(body.total_count or 0):
                return found
            page += 1

    def _sms_record(self, detail: Any, *, sid: str, to: str | None = None) -> ProviderRecord:
        return ProviderRecord(
            sid=sid,
            channel=Channel.SMS,
            to=to or _e164(detail.phone_num),
            status=SMS_STATUSES.get(int(detail.send_status or 1), DeliveryStatus.SENT),
            created_at=_local_time(detail.send_date),
            body=detail.content,
            reference=detail.out_id or None,
        )

    def _recent_days(self, count: int) -> list[date]:
        today = self.clock.now().astimezone(CHINA).date()
        return [today - timedelta(days=n) for n in range(count)]

    def _days_from(self, first: date) -> list[date]:
        today = self.clock.now().astimezone(CHINA).date()
        first = max(first, today - timedelta(days=29))  # QuerySendDetails keeps 30 days
        return [first + timedelta(days=n) for n in range((today - first).days + 1)]

    # --- pushes ---

    def parse_push(self, push_type: str, body: bytes) -> list[Signal]:
        try:
            items = json.loads(body)
        except ValueError:
            raise ValueError("not JSON") from None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ValueError("an Aliyun push is a JSON array of objects")
        parse = {
            "SmsReport": self._sms_report,
            "SmsUp": _sms_up,
            "VoiceCallReport": _voice_report,
            "VoiceReport": _voice_report,
        }.get(push_type)
        if parse is None:
            raise ValueError(f"not an Aliyun push type: {push_type[:40]}")
        try:
            return [signal for item in items for signal in parse(item)]
        except (KeyError, TypeError, InvalidPhone) as error:
            raise ValueError(f"{push_type} item not understood ({type(error).__name__})") from None

    def _sms_report(self, item: dict[str, Any]) -> list[Signal]:
        to = _e164(item["phone_number"])
        success = item["success"]
        if not isinstance(success, bool):
            success = str(success).lower() == "true"
        sid = self._sms_sid(str(item["biz_id"]), _mainland(to))
        return [
            Signal(
                "status",
                to=to,
                sid=sid,
                reference=str(item.get("out_id") or "") or None,
                status=DeliveryStatus.DELIVERED if success else DeliveryStatus.UNDELIVERED,
                error_code=None if success else str(item.get("err_code") or "")[:32] or None,
                at=_local_time(item.get("report_time")),
                evidence={"biz_id": str(item["biz_id"])},
            )
        ]

    def push_answer(self) -> dict[str, object]:
        return {"code": 0, "msg": "成功"}

    async def close(self) -> None:
        return None  # the SDK opens a session per request


def _sms_up(item: dict[str, Any]) -> list[Signal]:
    return [
        Signal(
            "reply",
            to=_e164(item["phone_number"]),
            text=str(item["content"]),
            at=_local_time(item.get("send_time")),
        )
    ]


def _voice_report(item: dict[str, Any]) -> list[Signal]:
    """A VoiceCallReport (a state during the call, with the key pressed) or VoiceReport (the final record)."""
    call_id, state = str(item["call_id"]), str(item["status_code"])
    if not call_id:
        raise KeyError("call_id")
    to = _e164(item["callee"]) if item.get("callee") else ""
    at = _local_time(item.get("status_time") or item.get("end_time"))
    status = _call_status(state)
    signals = []
    if status is not None:
        error = state if status not in (DeliveryStatus.IN_PROGRESS, DeliveryStatus.COMPLETED) else None
        signals.append(
            Signal(
                "status",
                to=to,
                sid=call_id,
                reference=str(item.get("out_id") or "") or None,
                status=status,
                error_code=error,
                at=at,
            )
        )
    dtmf = str(item.get("dtmf") or "")
    if dtmf:
        evidence = {"call_id": call_id, "dtmf": dtmf}
        signals.append(Signal("key", to=to, sid=call_id, key=dtmf[:1], at=at, evidence=evidence))
    return signals


def _call_status(state: str) -> DeliveryStatus | None:
    if state in IN_CALL_STATES:
        return DeliveryStatus.IN_PROGRESS
    if state in ANSWERED_STATES:
        return DeliveryStatus.COMPLETED
    if state in CALL_STATES:
        return CALL_STATES[state]
    if state.startswith("2000") or state.startswith("2001"):
        return DeliveryStatus.FAILED  # invalid number, unreachable, off, suspended, …
    return None


def _call_record(sid: str, data: str) -> ProviderRecord:
    detail = json.loads(data)
    state = str(detail.get("state") or "")
    status = _call_status(state) or DeliveryStatus.QUEUED
    callee = str(detail.get("callee") or "")
    return ProviderRecord(
        sid=sid,
        channel=Channel.VOICE,
        to=_e164(callee) if callee else "",
        status=status,
        created_at=_local_time(detail.get("gmtCreate")),
    )


# --- numbers, times, errors ---


def _mainland(e164: str) -> str:
    """An E.164 mainland number as Aliyun takes it: 11 digits (or a landline with its area code), no +86."""
    if not e164.startswith("+86") or not e164[3:].isdigit():
        raise PermanentError(f"Aliyun reaches mainland numbers only, not {mask_phone(e164)}", code="not_mainland")
    national = e164[3:]
    return national if len(national) == 11 and national.startswith("1") else "0" + national


def _e164(number: Any) -> str:
    """A number as Aliyun writes it (no +86) in E.164; InvalidPhone when it is none."""
    return parse_phone(str(number), "CN").e164


def _local_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None


def _parse_stamp(stamp: str) -> datetime:
    try:
        return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=CHINA)
    except ValueError:
        raise PermanentError("not an Aliyun SMS sid", code="bad_sid") from None


def _json(values: dict[str, str]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _refused(code: str, status: int, to: str) -> PagerError:
    short = code[:32]
    if code == LIMIT:
        log.warning("Aliyun's frequency limit refused a page to %s", mask_phone(to))
        return PermanentError("refused by Aliyun's frequency limit", code="limit")
    if code in NOT_PROCESSED_CODES:
        return NotProcessed(f"Aliyun refused the request before acting ({code})", code=short)
    if status >= 500:
        return TemporaryError(f"Aliyun answered HTTP {status} ({code})", code=short or str(status))
    if code in ACCOUNT_CODES or status in (401, 403, 404):
        log.error("Aliyun refused our account, credentials or templates: %s (HTTP %s)", code, status)
    else:
        log.warning("Aliyun refused a page to %s: %s", mask_phone(to), code)
    return PermanentError(f"Aliyun refused it: {code}", code=short)


def _transport(error: BaseException | None) -> PagerError:
    """Whether Aliyun could have acted: a connection never made (refused, no route) is certainly not processed;
    a timeout or a connection lost after the request went may have been."""
    cause = error
    while cause is not None and not isinstance(cause, aiohttp.ClientError | OSError | TimeoutError):
        cause = cause.__context__  # the SDK wraps aiohttp's error in its own RetryError
    if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, aiohttp.ServerTimeoutError):
        return NotProcessed("could not connect to Aliyun", code="unreachable")
    if isinstance(cause, ConnectionRefusedError):
        return NotProcessed("could not connect to Aliyun", code="unreachable")
    if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError):
        return TemporaryError("Aliyun did not answer in time", code="timeout")
    return TemporaryError(f"the connection to Aliyun failed ({type(cause or error).__name__})", code="connection")


def _config(key_id: str, secret: str, endpoint: str, timeout: float) -> Any:
    from alibabacloud_tea_openapi.models import Config

    host = endpoint.split("://", 1)[-1].rstrip("/")
    loopback = host.startswith(("127.", "localhost", "[::1]"))
    return Config(
        access_key_id=key_id,
        access_key_secret=secret,
        endpoint=host,
        protocol="http" if loopback else "https",
        read_timeout=int(timeout * 1000),
        connect_timeout=int(min(timeout, 5.0) * 1000),
    )
