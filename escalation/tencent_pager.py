"""The Tencent Cloud adapter of the pager port: SMS (sms 2021-01-11) through the official async `SmsClient`, voice
(vms 2020-09-02, `SendTtsVoice`) through the official async `CommonClient` — the vms package has no async client.

Only approved templates are sent (`pager_templates`); our outbox row's id travels as `SessionContext`, which the
status pull echoes. What Tencent answers, translated for the outbox:

- a `SendStatusSet` that is None or empty is a failure that *may have sent* (`TemporaryError`): the SDK returns an
  empty model when the answer's Content-Type carries a charset (CHANNELS corrections #2), so "no status" is never
  "sent";
- a per-number `Code` of `Ok` is sent; a per-number `LimitExceeded.*` (Tencent puts frequency limits there, not in
  a top-level error) is `PermanentError(code="limit")`; any other per-number code is permanent;
- top-level: `RequestLimitExceeded` was not processed, `InternalError` may have been, `AuthFailure.*` (our keys)
  is permanent and logged at ERROR; a refused connection was not processed, a timeout, 5xx or a dropped connection
  may have been. The SDK's retryer stays off: SendSms has no idempotency key.

Tencent has no lookup by id — its pulls are a queue (`PullSmsSendStatus`, each status once) or per number
(`PullSmsSendStatusByPhoneNumber`) — so `lookup` raises `CannotTell` and the outbox reconciles through
`find_recent`: SMS from the per-number pull (which knows a message only once its receipt came), voice `[]` (the
vms SDK has no per-number call pull: a voice row is resent once "no trace" has settled, the rare duplicate the
outbox prefers to a lost page). A key press cannot be confirmed by pull either (`confirms_calls = False`,
corrections #6): `pager_inbound` matches it to a call we placed to that callee within the call's lifetime.

Pushes come unsigned (`push_types`, at `/pager/tencent/<secret>/<type>`); `parse_push` turns them into `Signal`s.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from carevisit.care.clock import Clock, SystemClock
from carevisit.care.phones import mask_phone
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import (
    CannotTell,
    NotProcessed,
    PagerError,
    PermanentError,
    ProviderRecord,
    Sent,
    Signal,
    TemporaryError,
)
from carevisit.escalation.pager_templates import MissingTemplate, PagerTemplates, Template
from carevisit.escalation.template_rules import sendable_values
from carevisit.storage.enums import Channel, DeliveryStatus

log = logging.getLogger(__name__)

PROVIDER = "tencent"
INSTALL_HINT = "the Tencent pager needs its SDK: pip install 'carevisit[tencent]'"
SMS_HOST = "sms.tencentcloudapi.com"
VMS_HOST = "vms.tencentcloudapi.com"
VMS_VERSION = "2020-09-02"
PLAY_TIMES = 2
PULL_LIMIT = 100  # the most PullSmsSendStatusByPhoneNumber returns at once
PULL_PAGES = 5

# voiceprompt_callback `result`: 0 answered, 1 not answered, 2 the call failed.
CALL_RESULTS = {"0": DeliveryStatus.COMPLETED, "1": DeliveryStatus.NO_ANSWER, "2": DeliveryStatus.FAILED}
REPORT_STATUSES = {"SUCCESS": DeliveryStatus.DELIVERED, "FAIL": DeliveryStatus.UNDELIVERED}


def available() -> bool:
    """Whether the Tencent SDK is installed (the `tencent` extra), for make_pager's clear error."""
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("tencentcloud.common.common_client_async", "tencentcloud.sms.v20210111.sms_client_async")
        )
    except ModuleNotFoundError:  # find_spec imports the parents: without the SDK, `tencentcloud` itself is missing
        return False


class TencentPager:
    name = PROVIDER
    push_types = ("sms_status", "sms_reply", "voiceprompt", "voicekey")
    confirms_calls = False
    # PullSmsSendStatusByPhoneNumber shows an SMS only once its receipt came, often tens of seconds after the send:
    # a lost answer is called "no trace" (and the SMS sent again) only this long after the attempt.
    list_lag = timedelta(minutes=2)

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: str,
        sms_app_id: str,
        voice_app_id: str | None,
        sign_name: str,
        templates: PagerTemplates,
        sms_endpoint: str | None = None,
        voice_endpoint: str | None = None,
        timeout: float = 15.0,
        region: str = "ap-guangzhou",
        clock: Clock | None = None,
        account: str = "enterprise",
    ) -> None:
        """Endpoints are a host (`sms.tencentcloudapi.com`, https) or a URL (`http://127.0.0.1:8080`, a test
        server). Create inside a running event loop (the SDK's httpx client)."""
        if not available():
            raise RuntimeError(INSTALL_HINT)
        self.account = account  # "individual": each variable at most 12 characters
        from tencentcloud.common.common_client_async import CommonClient
        from tencentcloud.common.credential import Credential
        from tencentcloud.sms.v20210111.sms_client_async import SmsClient

        # The SDK's DEBUG logging writes request bodies, phone numbers included: never below INFO.
        sdk_log = logging.getLogger("tencentcloud_sdk_common")
        sdk_log.setLevel(max(sdk_log.getEffectiveLevel(), logging.INFO))
        credential = Credential(secret_id, secret_key)
        self._sms = SmsClient(credential, region, _profile(sms_endpoint or SMS_HOST, timeout))
        self._vms = CommonClient("vms", VMS_VERSION, credential, region, _profile(voice_endpoint or VMS_HOST, timeout))
        self._sms_app_id = sms_app_id
        self._voice_app_id = voice_app_id
        self._sign_name = sign_name
        self._templates = templates
        self._clock = clock or SystemClock()

    # --- sending ---

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        from tencentcloud.sms.v20210111 import models

        template = self._template("sms", notice.kind)
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [to]
        request.SmsSdkAppId = self._sms_app_id
        request.SignName = template.sign_name or self._sign_name
        request.TemplateId = template.template
        request.TemplateParamSet = _values(template, notice.params, self.account)
        request.SessionContext = callbacks.reference or ""
        answer = await _translated(self._sms.SendSms(request), to)
        statuses = answer.SendStatusSet
        if not statuses:  # an empty model (a charset in the Content-Type, or a broken answer): it may have sent
            raise TemporaryError("Tencent answered SendSms without a send status", code="empty_answer")
        status = next((s for s in statuses if s.PhoneNumber == to), statuses[0])
        code = str(status.Code or "")
        if code == "Ok" and status.SerialNo:
            return Sent(str(status.SerialNo), DeliveryStatus.SENT)
        if code.startswith("LimitExceeded."):
            log.warning("Tencent refused an SMS to %s: frequency limit %s", mask_phone(to), code)
            raise PermanentError(f"Tencent frequency limit: {code}", code="limit")
        log.warning("Tencent refused an SMS to %s: %s", mask_phone(to), code or "no code")
        raise PermanentError(f"Tencent refused the SMS: {code} {status.Message or ''}".strip(), code=_short(code))

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        """SendTtsVoice with the kind's approved template, which must itself ask the callee to press the key
        (docs/providers.md; open risk #6: whether any key is reported is unverified on a live account)."""
        if not self._voice_app_id:
            raise PermanentError("no Tencent voice app configured (CAREVISIT_TENCENT_VOICE_APP_ID)", code="no_voice")
        template = self._template("voice", script.kind)
        params = {
            "TemplateId": template.template,
            "CalledNumber": to,
            "VoiceSdkAppid": self._voice_app_id,
            "TemplateParamSet": _values(template, script.params, self.account),
            "PlayTimes": PLAY_TIMES,
            "SessionContext": callbacks.reference or "",
        }
        answer = await _translated(self._vms.call_and_deserialize("SendTtsVoice", params), to)
        response = answer.get("Response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise TemporaryError("Tencent answered SendTtsVoice without a response", code="empty_answer")
        if isinstance(response.get("Error"), dict):  # the SDK checks errors only without a charset: check here
            error = response["Error"]
            raise _from_code(str(error.get("Code", "")), str(error.get("Message", "")), to)
        call_id = (response.get("SendStatus") or {}).get("CallId")
        if not call_id:
            raise TemporaryError("Tencent answered SendTtsVoice without a CallId", code="empty_answer")
        return Sent(str(call_id), DeliveryStatus.QUEUED)

    def _template(self, channel: str, kind: str) -> Template:
        try:
            return self._templates.find(PROVIDER, channel, kind)
        except MissingTemplate as error:
            raise PermanentError(str(error), code="no_template") from None

    # --- asking what became of a message ---

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        """Tencent has no lookup by SerialNo or CallId: `CannotTell` (the outbox asks `find_recent`); never None,
        which would say "no such message" and have it sent again."""
        raise CannotTell("Tencent has no lookup by id; its records are pulled per number", code="no_lookup")

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        """SMS to `to` since `since` that have a receipt (the per-number pull knows no other); voice: none (the
        vms SDK has no per-number pull)."""
        if channel != Channel.SMS:
            return []
        from tencentcloud.sms.v20210111 import models

        records: list[ProviderRecord] = []
        for page in range(PULL_PAGES):
            request = models.PullSmsSendStatusByPhoneNumberRequest()
            request.BeginTime = int(since.timestamp())
            request.EndTime = int(self._clock.now().timestamp())
            request.Offset = page * PULL_LIMIT
            request.Limit = PULL_LIMIT
            request.PhoneNumber = to
            request.SmsSdkAppId = self._sms_app_id
            answer = await _translated(self._sms.PullSmsSendStatusByPhoneNumber(request), to)
            statuses = answer.PullSmsSendStatusSet
            if statuses is None:  # an empty model: we cannot tell what it holds, which is not "nothing"
                raise TemporaryError("Tencent answered the status pull without a status set", code="empty_answer")
            records.extend(_pulled_record(s) for s in statuses)
            if len(statuses) < PULL_LIMIT:
                break
        return records

    # --- pushes ---

    def parse_push(self, push_type: str, body: bytes) -> list[Signal]:
        try:
            data = json.loads(body)
        except ValueError:
            raise ValueError(f"a Tencent {push_type} push is JSON") from None
        try:
            if push_type == "sms_status":
                if not isinstance(data, list):
                    raise ValueError("sms_status is a JSON array")
                return [_status_signal(item) for item in data]
            if push_type == "sms_reply":
                return [_reply_signal(_object(data))]
            if push_type == "voiceprompt":
                return [_prompt_signal(_object(_object(data)["voiceprompt_callback"]))]
            if push_type == "voicekey":
                return [_key_signal(_object(_object(data)["voicekey_callback"]))]
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a Tencent {push_type} push: {error.__class__.__name__} {error}") from None
        raise ValueError(f"unknown Tencent push type {push_type!r}")

    def push_answer(self) -> dict[str, object]:
        return {"result": 0, "errmsg": "OK"}

    async def close(self) -> None:
        await self._sms.close()
        await self._vms.close()


def _profile(endpoint: str, timeout: float) -> Any:
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    protocol, host = "https", endpoint
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        protocol, host = parts.scheme, parts.netloc
    # No retryer (the default): a blind retry after a timeout can page twice. No region breaker: it would switch
    # to a backup endpoint of its own.
    http = HttpProfile(protocol=protocol, endpoint=host, reqTimeout=timeout)  # type: ignore[arg-type]
    return ClientProfile(httpProfile=http, disable_region_breaker=True)


def _values(template: Template, params: dict[str, str], account: str) -> list[str]:
    """The template's variables in its order, made to fit the account's rules (an individual account's 12
    characters) and checked against them before the request."""
    return template.values(sendable_values(template, params, account=account))


async def _translated(request: Any, to: str) -> Any:
    """Await an SDK request, turning its failures into the pager's three kinds."""
    import httpx
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    try:
        return await request
    except TencentCloudSDKException as error:
        raise _from_code(str(error.code or ""), str(error.message or ""), to) from error
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # nothing reached Tencent
        raise NotProcessed(f"cannot connect to Tencent: {error.__class__.__name__}", code="connect") from error
    except httpx.TimeoutException as error:
        raise TemporaryError("Tencent did not answer in time", code="timeout") from error
    except httpx.TransportError as error:  # dropped mid-request: it may have acted
        raise TemporaryError(f"Tencent connection broke: {error.__class__.__name__}", code="network") from error
    except ValueError as error:  # an answer that is not Tencent's JSON
        raise TemporaryError("Tencent's answer was not understood", code="bad_answer") from error


def _from_code(code: str, message: str, to: str) -> PagerError:
    if code == "ServerNetworkError":  # a non-200 answer: a gateway or server error
        return TemporaryError("Tencent server error", code="server_error")
    if code.startswith("RequestLimitExceeded"):
        return NotProcessed("Tencent is rate limiting our requests", code="rate_limited")
    if code.startswith(("InternalError", "FailedOperation.AccessUpstreamTimeout")):
        return TemporaryError(f"Tencent internal error {code}", code=_short(code))
    if code.startswith(("AuthFailure", "UnauthorizedOperation")):  # our keys or account: an operator must act
        log.error("Tencent refused our credentials or account: %s", code)
        return PermanentError(f"Tencent refused: {code} {message}".strip(), code=_short(code))
    if code.startswith("LimitExceeded."):
        log.warning("Tencent refused a page to %s: frequency limit %s", mask_phone(to), code)
        return PermanentError(f"Tencent frequency limit: {code} {message}".strip(), code="limit")
    log.warning("Tencent refused a request for %s: %s", mask_phone(to), code)
    return PermanentError(f"Tencent refused: {code} {message}".strip(), code=_short(code))


def _short(code: str) -> str:
    """An error code that fits the outbox's 32 characters (Tencent's run to 57): its last part if need be."""
    if len(code) <= 32:
        return code or "refused"
    return code.rsplit(".", 1)[-1][:32]


def _pulled_record(status: Any) -> ProviderRecord:
    received = status.UserReceiveTime
    return ProviderRecord(
        sid=str(status.SerialNo),
        channel=Channel.SMS,
        to=str(status.PhoneNumber),
        status=REPORT_STATUSES.get(str(status.ReportStatus), DeliveryStatus.SENT),
        # The pull has no send time: the receipt's is the closest, and never before the send.
        created_at=datetime.fromtimestamp(int(received), UTC) if received else None,
        reference=str(status.SessionContext) if status.SessionContext else None,
    )


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return value


def _e164(item: dict[str, Any]) -> str:
    mobile = "".join(ch for ch in str(item["mobile"]) if ch.isdigit())
    nation = "".join(ch for ch in str(item.get("nationcode") or "86") if ch.isdigit())
    if not mobile:
        raise ValueError("a Tencent push without a mobile number")
    return f"+{nation}{mobile}"


def _unix(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def _beijing_time(value: Any) -> datetime | None:
    try:
        # Beijing has no daylight saving: its offset is always +08:00.
        local = datetime.strptime(f"{value} +0800", "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return local.astimezone(UTC)


def _status_signal(item: Any) -> Signal:
    item = _object(item)
    report = str(item["report_status"])
    if report not in REPORT_STATUSES:
        raise ValueError(f"report_status {report!r} is neither SUCCESS nor FAIL")
    sid = str(item["sid"])
    failed = report == "FAIL"
    return Signal(
        kind="status",
        to=_e164(item),
        sid=sid,
        status=REPORT_STATUSES[report],
        error_code=str(item.get("errmsg") or "FAIL")[:32] if failed else None,
        at=_beijing_time(item.get("user_receive_time")),
        evidence={"sid": sid, "report_status": report, "errmsg": str(item.get("errmsg") or "")[:64]},
    )


def _reply_signal(item: dict[str, Any]) -> Signal:
    return Signal(
        kind="reply",
        to=_e164(item),
        text=str(item["text"]),
        at=_unix(item.get("time")),
        evidence={"push": "sms_reply", "sign": str(item.get("sign") or "")[:32]},
    )


def _prompt_signal(item: dict[str, Any]) -> Signal:
    result = str(item["result"])
    if result not in CALL_RESULTS:
        raise ValueError(f"voiceprompt result {result!r} is not 0, 1 or 2")
    call_id = str(item["callid"])
    return Signal(
        kind="status",
        to=_e164(item),
        sid=call_id,
        status=CALL_RESULTS[result],
        at=_unix(item.get("end_calltime")),
        evidence={"call_id": call_id, "result": result},
    )


def _key_signal(item: dict[str, Any]) -> Signal:
    call_id, key = str(item["callid"]), str(item["keypress"])
    if not call_id or not key:
        raise ValueError("a voicekey push names its call and its key")
    return Signal(kind="key", to=_e164(item), sid=call_id, key=key, evidence={"call_id": call_id, "key": key})
