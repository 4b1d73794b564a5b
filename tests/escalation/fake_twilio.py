"""A fake Twilio REST server (aiohttp) for the real twilio client to talk HTTP to, in the spirit of goalert's
mocktwilio — and as harsh as Twilio is in production:

- it records messages and calls, validates what Twilio validates (numbers, body, call URL, credentials) and
  answers every refusal with Twilio's JSON error shape (`code`, `message`, `more_info`, `status`);
- `fail_next` fails the next request of one kind (message/call × create/fetch/list) with any status and code,
  optionally *after* acting (a 5xx once the message was accepted); `hang_next` holds an answer past our client's
  timeout, so a send can time out on our side although Twilio took it;
- list endpoints lag a create by `list_lag` on the FakeClock (Twilio's lists are eventually consistent), so
  "no trace of it" can be a lie for a while; a fetch by sid is consistent;
- callbacks to our webhooks are signed like Twilio's, retried once when we answer 5xx (Twilio's default), and can
  be built without sending (`status_callback`) to be delivered late, out of order or twice (`deliver`, `replay`);
- a TwiML `<Message>` in our answer to an inbound SMS is sent as a reply SMS, as Twilio does;
- `RandomFaults` fails a share of creates at random (the benchmark's fault mode).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from carevisit.care.clock import Clock
from tests.escalation.random_faults import FaultDice

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
FROM = "+8613800000000"

# The kinds of request a failure can be aimed at.
MESSAGE_CREATE = "message.create"
CALL_CREATE = "call.create"
MESSAGE_FETCH = "message.fetch"
CALL_FETCH = "call.fetch"
MESSAGE_LIST = "message.list"
CALL_LIST = "call.list"
KINDS = (MESSAGE_CREATE, CALL_CREATE, MESSAGE_FETCH, CALL_FETCH, MESSAGE_LIST, CALL_LIST)
_ALIASES = {"sms": MESSAGE_CREATE, "call": CALL_CREATE}

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# What Twilio says for the statuses tests use most, when they give no message of their own.
_MESSAGES = {
    400: "Bad request",
    401: "Authenticate",
    403: "Forbidden",
    404: "The requested resource was not found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Record:
    sid: str
    kind: str  # "sms" | "call"
    to: str
    body: str | None
    status: str
    created: datetime
    status_callback: str | None
    url: str | None = None  # a call's TwiML URL
    statuses: list[str] = field(default_factory=list)
    direction: str = "outbound-api"  # or "outbound-reply": a TwiML <Message> answering an inbound SMS
    visible_at: datetime | None = None  # when list endpoints start showing it


@dataclass
class Failure:
    status: int
    code: int | None = None
    process: bool = False  # a create is recorded first: Twilio acted, then failed to say so
    hang: float = 0.0  # real seconds to hold the answer (past our client's timeout: a timeout on our side)
    kind: str | None = None  # one of KINDS; None: the next request of any kind
    message: str | None = None


class RandomFaults(FaultDice):
    """A share of creates fails at random: `error_rate` with a 500 Twilio did not act on, `timeout_rate` accepted
    but answered only after `hang` seconds (past the client's timeout)."""

    def draw(self, kind: str) -> Failure | None:
        fault = self.roll()
        if fault == "error":
            return Failure(500, 20500, kind=kind, message="Internal Server Error")
        if fault == "timeout":
            return Failure(0, process=True, hang=self.hang, kind=kind)
        return None


@dataclass(frozen=True)
class Callback:
    """A signed request to one of our webhooks, as Twilio would send it (and may send again)."""

    url: str
    params: dict[str, str]
    signature: str


class TwilioError(Exception):
    """Answered as Twilio's JSON error."""

    def __init__(self, status: int, code: int | None, message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message or _MESSAGES.get(status, "Error")


class FakeTwilio:
    def __init__(
        self,
        clock: Clock,
        *,
        auth_token: str = AUTH_TOKEN,
        list_lag: timedelta = timedelta(seconds=5),
        faults: RandomFaults | None = None,
    ) -> None:
        self.clock = clock
        self.auth_token = auth_token
        self.list_lag = list_lag
        self.faults = faults
        self.records: list[Record] = []
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, str]] = []  # (method, kind) of every REST request, in order
        self.callbacks: list[tuple[Callback, int]] = []  # every delivery to our webhooks, with our answer
        self.sms_webhook: str | None = None  # our /twilio/sms, for inbound messages
        self._ids = itertools.count(1)
        self._validator = RequestValidator(auth_token)
        self.server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None
        self.first_request_at: list[float] = []  # loop time of each record, for the benchmark

    # --- running ---

    async def start(self) -> str:
        app = web.Application(middlewares=[self._errors])
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Messages.json", self._create_message)
        app.router.add_get(base + "/Messages.json", self._list)
        app.router.add_get(base + "/Messages/{sid}.json", self._fetch)
        app.router.add_post(base + "/Calls.json", self._create_call)
        app.router.add_get(base + "/Calls.json", self._list)
        app.router.add_get(base + "/Calls/{sid}.json", self._fetch)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self._http = aiohttp.ClientSession()
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        if self._http:
            await self._http.close()
        if self.server:
            await self.server.close()

    # --- what tests look at ---

    def sms_to(self, number: str) -> list[Record]:
        """Messages our service created (not TwiML replies)."""
        return [r for r in self.records if r.kind == "sms" and r.to == number and r.direction == "outbound-api"]

    def replies_to(self, number: str) -> list[Record]:
        """SMS Twilio sent because our answer to an inbound message contained a <Message>."""
        return [r for r in self.records if r.kind == "sms" and r.to == number and r.direction == "outbound-reply"]

    def calls_to(self, number: str) -> list[Record]:
        return [r for r in self.records if r.kind == "call" and r.to == number]

    # --- failures ---

    def fail_next(
        self,
        status: int,
        *,
        code: int | None = None,
        process: bool = False,
        times: int = 1,
        kind: str | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` requests (of `kind`, or of any kind) fail with `status`/`code`."""
        aimed = _kind(kind)
        self.failures.extend(Failure(status, code, process, kind=aimed, message=message) for _ in range(times))

    def hang_next(self, seconds: float, *, process: bool = True, kind: str | None = None) -> None:
        """Hold the next answer `seconds`: with `process`, Twilio acted at once and answers success late."""
        self.failures.append(Failure(0, None, process, hang=seconds, kind=_kind(kind)))

    # --- callbacks to the service, signed like Twilio's ---

    def sign(self, url: str, params: dict[str, str]) -> Callback:
        return Callback(url, dict(params), self._validator.compute_signature(url, params))

    async def post_signed(self, url: str, params: dict[str, str], *, signature: str | None = None) -> tuple[int, str]:
        """One POST, signed (or with the given signature); no retry. For forged and hand-made requests."""
        callback = self.sign(url, params)
        if signature is not None:
            callback = Callback(url, dict(params), signature)
        return await self._post(callback)

    async def deliver(self, callback: Callback) -> tuple[int, str]:
        """Send a callback as Twilio does: once more if we answer 5xx or cannot be reached."""
        try:
            status, text = await self._post(callback)
        except aiohttp.ClientError:
            status, text = 599, ""
        if status >= 500:
            status, text = await self._post(callback)
        return status, text

    async def replay(self, callback: Callback) -> tuple[int, str]:
        """The very same signed request again (a retry, or someone replaying a captured one)."""
        return await self._post(callback)

    def status_callback(self, sid: str, status: str, *, error_code: str | None = None) -> Callback:
        """The signed status callback Twilio would send for `sid` entering `status` (not sent; see `deliver`)."""
        record = self._get(sid)
        assert record.status_callback, "no status callback was given"
        if record.kind == "sms":
            params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status}
        else:
            params = {"CallSid": sid, "CallStatus": status, "Direction": "outbound-api"}
        params |= {"AccountSid": ACCOUNT_SID, "To": record.to, "From": FROM, "ApiVersion": "2010-04-01"}
        if error_code:
            params["ErrorCode"] = error_code
        return self.sign(record.status_callback, params)

    async def set_status(self, sid: str, status: str, *, error_code: str | None = None) -> tuple[int, str]:
        """The message or call moves to `status` and its callback is delivered."""
        record = self._get(sid)
        record.status = status
        record.statuses.append(status)
        return await self.deliver(self.status_callback(sid, status, error_code=error_code))

    async def answer(self, sid: str, *, digits: str | None) -> list[str]:
        """Answer a call: fetch its TwiML, then (if the script gathers) press `digits`. Returns the TwiML seen."""
        record = self._get(sid)
        assert record.url
        params = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": "in-progress", "To": record.to, "From": FROM}
        status, first = await self.deliver(self.sign(record.url, params))
        assert status == 200, first
        seen = [first]
        action = re.search(r'<Gather[^>]*action="([^"]+)"', first)
        if digits is not None and action:
            url = action.group(1).replace("&amp;", "&")
            status, second = await self.deliver(self.sign(url, params | {"Digits": digits}))
            assert status == 200, second
            seen.append(second)
        return seen

    def inbound_callback(self, sender: str, body: str) -> Callback:
        """The signed request for an SMS from `sender` to our number (not sent; see `deliver`)."""
        assert self.sms_webhook
        sid = f"SM{next(self._ids):032x}"
        params = {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "From": sender,
            "To": FROM,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        return self.sign(self.sms_webhook, params)

    async def inbound_sms(self, sender: str, body: str) -> tuple[int, str]:
        return await self.deliver(self.inbound_callback(sender, body))

    async def _post(self, callback: Callback) -> tuple[int, str]:
        assert self._http is not None
        headers = {"X-Twilio-Signature": callback.signature}
        async with self._http.post(callback.url, data=callback.params, headers=headers) as response:
            text = await response.text()
            self.callbacks.append((callback, response.status))
        if response.status == 200 and callback.url == self.sms_webhook:
            self._send_replies(callback.params["From"], text)
        return response.status, text

    def _send_replies(self, to: str, twiml: str) -> None:
        """A <Message> in the answer to an inbound SMS is an SMS back to its sender."""
        try:
            root = ElementTree.fromstring(twiml)
        except ElementTree.ParseError:
            return
        for message in root.iter("Message"):
            body = "".join(message.itertext()).strip()
            record = self._new_record("sms", to=to, body=body, callback=None, url=None)
            record.direction = "outbound-reply"

    # --- the REST API ---

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except TwilioError as error:
            return _error_response(request, error)

    def _get(self, sid: str) -> Record:
        return next(r for r in self.records if r.sid == sid)

    async def _begin(self, request: web.Request, kind: str) -> tuple[Any, Failure | None]:
        """Log, authenticate, read the form; the failure aimed at this request, if any."""
        self.requests.append((request.method, kind))
        self._check_auth(request)
        form = await request.post()
        failure = next((f for f in self.failures if f.kind in (None, kind)), None)
        if failure is not None:
            self.failures.remove(failure)
        elif self.faults is not None and kind in (MESSAGE_CREATE, CALL_CREATE):
            failure = self.faults.draw(kind)
        return form, failure

    async def _fail(self, failure: Failure) -> None:
        if failure.hang:
            await asyncio.sleep(failure.hang)
            if failure.process:
                return  # acted on and answered, late
            raise TwilioError(504, None)
        raise TwilioError(failure.status, failure.code, failure.message)

    def _check_auth(self, request: web.Request) -> None:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            raise TwilioError(401, 20003, "Authenticate")
        if request.match_info["account"] != ACCOUNT_SID:
            raise TwilioError(404, 20404)

    def _new_record(self, kind: str, *, to: str, body: str | None, callback: str | None, url: str | None) -> Record:
        now = self.clock.now()
        record = Record(
            sid=f"{'SM' if kind == 'sms' else 'CA'}{next(self._ids):032x}",
            kind=kind,
            to=to,
            body=body,
            status="queued",
            created=now,
            status_callback=callback,
            url=url,
            visible_at=now + self.list_lag,
        )
        self.records.append(record)
        self.first_request_at.append(asyncio.get_running_loop().time())
        return record

    async def _create_message(self, request: web.Request) -> web.Response:
        form, failure = await self._begin(request, MESSAGE_CREATE)
        to, body = str(form.get("To") or ""), form.get("Body")
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not _E164.match(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not body:
            raise TwilioError(400, 21602, "Message body is required.")
        if len(str(body)) > 1600:
            raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        return await self._create(failure, "sms", to=to, body=str(body), form=form)

    async def _create_call(self, request: web.Request) -> web.Response:
        form, failure = await self._begin(request, CALL_CREATE)
        to, url = str(form.get("To") or ""), str(form.get("Url") or "")
        if not to:
            raise TwilioError(400, 21201, "No 'To' number is specified")
        if not _E164.match(to):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not form.get("From"):
            raise TwilioError(400, 21213, "No 'From' number is specified")
        if not re.match(r"^https?://[^/]+", url) and not form.get("Twiml"):
            raise TwilioError(400, 21205, "Url parameter is required")
        return await self._create(failure, "call", to=to, body=None, form=form)

    async def _create(
        self, failure: Failure | None, kind: str, *, to: str, body: str | None, form: Any
    ) -> web.Response:
        callback = str(form["StatusCallback"]) if form.get("StatusCallback") else None
        url = str(form["Url"]) if form.get("Url") else None
        if failure is not None:
            record = self._new_record(kind, to=to, body=body, callback=callback, url=url) if failure.process else None
            await self._fail(failure)
            assert record is not None  # only an accepted, late answer gets here
            return web.json_response(self._json(record), status=201)
        record = self._new_record(kind, to=to, body=body, callback=callback, url=url)
        return web.json_response(self._json(record), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        kind = "sms" if request.path.endswith("Messages.json") else "call"
        _, failure = await self._begin(request, MESSAGE_LIST if kind == "sms" else CALL_LIST)
        if failure is not None:
            await self._fail(failure)
        to = request.query.get("To")
        now = self.clock.now()
        found = [
            r
            for r in reversed(self.records)  # newest first, as Twilio lists
            if r.kind == kind and (to is None or r.to == to) and (r.visible_at is None or r.visible_at <= now)
        ]
        size = max(1, min(1000, int(request.query.get("PageSize", "50"))))
        page = int(request.query.get("Page", "0"))
        chunk = found[page * size : (page + 1) * size]
        key = "messages" if kind == "sms" else "calls"
        next_uri = None
        if (page + 1) * size < len(found):
            query = f"PageSize={size}&Page={page + 1}" + (f"&To={to}" if to else "")
            next_uri = f"{request.path}?{query}".replace("+", "%2B")
        return web.json_response(
            {key: [self._json(r) for r in chunk], "next_page_uri": next_uri, "page": page, "page_size": size}
        )

    async def _fetch(self, request: web.Request) -> web.Response:
        kind = "sms" if "/Messages/" in request.path else "call"
        _, failure = await self._begin(request, MESSAGE_FETCH if kind == "sms" else CALL_FETCH)
        if failure is not None:
            await self._fail(failure)
        sid = request.match_info["sid"]
        record = next((r for r in self.records if r.sid == sid and r.kind == kind), None)
        if record is None:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        return web.json_response(self._json(record))

    def _json(self, record: Record) -> dict[str, Any]:
        return {
            "sid": record.sid,
            "account_sid": ACCOUNT_SID,
            "to": record.to,
            "from": FROM,
            "body": record.body,
            "status": record.status,
            "direction": record.direction,
            "date_created": format_datetime(record.created),
            "api_version": "2010-04-01",
        }


def _kind(kind: str | None) -> str | None:
    kind = _ALIASES.get(kind or "", kind)
    assert kind is None or kind in KINDS, f"unknown request kind {kind!r}"
    return kind


def _error_response(request: web.Request, error: TwilioError) -> web.Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "status": error.status}
    if error.code:
        body["more_info"] = f"https://www.twilio.com/docs/errors/{error.code}"
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else None
    return web.json_response(body, status=error.status, headers=headers)
