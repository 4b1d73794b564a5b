"""A fake Twilio REST server (aiohttp) for the real twilio client to talk HTTP to, in the spirit of goalert's
mocktwilio: it records messages and calls, can be told to fail, and signs the callbacks it makes to our webhooks.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from carevisit.care.clock import Clock

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
FROM = "+8613800000000"


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


@dataclass
class Failure:
    status: int
    code: int | None = None
    process: bool = False  # record the message first (a 5xx after Twilio acted)
    hang: float = 0.0  # seconds to wait before answering (a timeout)
    kind: str | None = None  # only for this kind of request ("sms", "call"); None: the next request of any kind


class FakeTwilio:
    def __init__(self, clock: Clock, *, auth_token: str = AUTH_TOKEN) -> None:
        self.clock = clock
        self.auth_token = auth_token
        self.records: list[Record] = []
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, str]] = []
        self.sms_webhook: str | None = None  # our /twilio/sms, for inbound messages
        self._ids = itertools.count(1)
        self._validator = RequestValidator(auth_token)
        self.server: TestServer | None = None
        self._http: aiohttp.ClientSession | None = None
        self.first_request_at: list[float] = []  # loop time of each create, for the benchmark

    # --- running ---

    async def start(self) -> str:
        app = web.Application()
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
        return [r for r in self.records if r.kind == "sms" and r.to == number]

    def calls_to(self, number: str) -> list[Record]:
        return [r for r in self.records if r.kind == "call" and r.to == number]

    def fail_next(self, status: int, *, code: int | None = None, process: bool = False, times: int = 1) -> None:
        self.failures.extend(Failure(status, code, process) for _ in range(times))

    def hang_next(self, seconds: float, *, process: bool = True, kind: str | None = None) -> None:
        self.failures.append(Failure(0, None, process, hang=seconds, kind=kind))

    # --- callbacks to the service, signed like Twilio's ---

    async def post_signed(self, url: str, params: dict[str, str], *, signature: str | None = None) -> tuple[int, str]:
        assert self._http is not None
        headers = {
            "X-Twilio-Signature": signature if signature is not None else self._validator.compute_signature(url, params)
        }
        async with self._http.post(url, data=params, headers=headers) as response:
            return response.status, await response.text()

    async def set_status(self, sid: str, status: str, *, error_code: str | None = None) -> tuple[int, str]:
        record = self._get(sid)
        record.status = status
        record.statuses.append(status)
        assert record.status_callback, "no status callback was given"
        key = "MessageSid" if record.kind == "sms" else "CallSid"
        status_key = "MessageStatus" if record.kind == "sms" else "CallStatus"
        params = {"AccountSid": ACCOUNT_SID, key: sid, status_key: status, "To": record.to, "From": FROM}
        if error_code:
            params["ErrorCode"] = error_code
        return await self.post_signed(record.status_callback, params)

    async def answer(self, sid: str, *, digits: str | None) -> list[str]:
        """Answer a call: fetch its TwiML, then (if the script gathers) press `digits`. Returns the TwiML seen."""
        record = self._get(sid)
        assert record.url
        params = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "CallStatus": "in-progress", "To": record.to, "From": FROM}
        status, first = await self.post_signed(record.url, params)
        assert status == 200, first
        seen = [first]
        action = re.search(r'<Gather[^>]*action="([^"]+)"', first)
        if digits is not None and action:
            url = action.group(1).replace("&amp;", "&")
            status, second = await self.post_signed(url, params | {"Digits": digits})
            assert status == 200, second
            seen.append(second)
        return seen

    async def inbound_sms(self, sender: str, body: str) -> tuple[int, str]:
        assert self.sms_webhook
        params = {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": f"SM{next(self._ids):032x}",
            "From": sender,
            "To": FROM,
            "Body": body,
        }
        return await self.post_signed(self.sms_webhook, params)

    # --- the REST API ---

    def _get(self, sid: str) -> Record:
        return next(r for r in self.records if r.sid == sid)

    async def _failure(self, request: web.Request, kind: str, form: Any) -> web.Response | None:
        self._check_auth(request)
        failure = next((f for f in self.failures if f.kind in (None, kind)), None)
        if failure is None:
            return None
        self.failures.remove(failure)
        if failure.process:
            self._record(kind, form)
        if failure.hang:
            await asyncio.sleep(failure.hang)
            return web.json_response({"status": 504}, status=504)
        return web.json_response(
            {"code": failure.code, "message": "fake failure", "status": failure.status}, status=failure.status
        )

    def _check_auth(self, request: web.Request) -> None:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            raise web.HTTPUnauthorized()

    def _record(self, kind: str, form: Any) -> Record:
        prefix = "SM" if kind == "sms" else "CA"
        record = Record(
            sid=f"{prefix}{next(self._ids):032x}",
            kind=kind,
            to=str(form.get("To")),
            body=str(form.get("Body")) if kind == "sms" else None,
            status="queued",
            created=self.clock.now(),
            status_callback=form.get("StatusCallback"),
            url=form.get("Url"),
        )
        self.records.append(record)
        self.first_request_at.append(asyncio.get_running_loop().time())
        return record

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(("POST", "sms"))
        failed = await self._failure(request, "sms", form)
        if failed is not None:
            return failed
        return web.json_response(self._json(self._record("sms", form)), status=201)

    async def _create_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(("POST", "call"))
        failed = await self._failure(request, "call", form)
        if failed is not None:
            return failed
        return web.json_response(self._json(self._record("call", form)), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", "list"))
        failed = await self._failure(request, "", {})
        if failed is not None:
            return failed
        kind = "sms" if request.path.endswith("Messages.json") else "call"
        to = request.query.get("To")
        found = [self._json(r) for r in reversed(self.records) if r.kind == kind and (to is None or r.to == to)]
        key = "messages" if kind == "sms" else "calls"
        return web.json_response({key: found, "next_page_uri": None, "page": 0, "page_size": 50})

    async def _fetch(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", "fetch"))
        failed = await self._failure(request, "", {})
        if failed is not None:
            return failed
        sid = request.match_info["sid"]
        record = next((r for r in self.records if r.sid == sid), None)
        if record is None:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        return web.json_response(self._json(record))

    def _json(self, record: Record) -> dict[str, Any]:
        return {
            "sid": record.sid,
            "account_sid": ACCOUNT_SID,
            "to": record.to,
            "from": FROM,
            "body": record.body,
            "status": record.status,
            "date_created": format_datetime(record.created),
        }
