"""The Twilio adapter of the pager port: the official library's async client.

`CAREVISIT_TWILIO_API_BASE` points it at another host (a test server): twilio has no base-URL option, so the HTTP
client rewrites `https://api.twilio.com`. The client's own retries stay off: Twilio has no idempotency key, and a
blind retry after a timeout can page twice.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from carevisit.care.phones import mask_phone
from carevisit.escalation.notices import Callbacks, Notice, VoiceScript
from carevisit.escalation.pager import (
    NotFound,
    NotProcessed,
    PagerError,
    PermanentError,
    ProviderRecord,
    Sent,
    TemporaryError,
    provider_status,
)
from carevisit.storage.enums import Channel, DeliveryStatus

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"


class RebasedHttpClient(AsyncTwilioHttpClient):
    """The async HTTP client, sending what is meant for api.twilio.com to `base` instead, with a total timeout."""

    def __init__(self, *, base: str | None, timeout: float) -> None:
        super().__init__(pool_connections=False)
        self.base = base.rstrip("/") if base else None
        # aiohttp wants a ClientTimeout, not the float twilio would pass through.
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's signature; the session's timeout applies
        allow_redirects: bool = False,
    ) -> Response:
        """As the library's, but rebased, with the Authorization header built directly (aiohttp 3.14 deprecates
        the BasicAuth object the library would use) and without logging personal data."""
        if self.base and url.startswith(TWILIO_API):
            url = self.base + url[len(TWILIO_API) :]
        headers = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        kwargs: dict[str, Any] = {
            "method": method.upper(),
            "url": url,
            "params": params,
            "data": data,
            "headers": headers,
            "allow_redirects": allow_redirects,
        }
        # Not the library's request logging: it writes query parameters (phone numbers) at INFO.
        assert self.session is not None
        async with self.session.request(**kwargs) as response:
            text = await response.text()
            log.debug("Twilio %s %s -> %s", method.upper(), url.split("?", 1)[0].rsplit("/", 1)[-1], response.status)
            return Response(response.status, text, response.headers)


class TwilioPager:
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None = None,
        api_base: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        """Create inside a running event loop (the async HTTP client needs one)."""
        self._http = RebasedHttpClient(base=api_base, timeout=timeout)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        # twilio imports its REST modules on first use (~0.1 s): pay that at start-up, not on the first emergency.
        _ = (self._client.messages, self._client.calls)
        self._from = from_number
        self._service = messaging_service_sid

    async def send_sms(self, *, to: str, notice: Notice, callbacks: Callbacks) -> Sent:
        """Sends the notice's text, rendered from our catalogue: Twilio takes free text, no templates."""
        options: dict[str, Any] = {"to": to, "body": notice.text}
        if self._service:
            options["messaging_service_sid"] = self._service
        else:
            options["from_"] = self._from
        if callbacks.status:
            options["status_callback"] = callbacks.status
        message = await _translated(self._client.messages.create_async(**options), to)
        return Sent(message.sid, provider_status(message.status) or DeliveryStatus.QUEUED)

    async def place_call(self, *, to: str, script: VoiceScript, callbacks: Callbacks) -> Sent:
        """The call fetches its TwiML from our webhook (`callbacks.script`), which says the script's text in a
        <Gather> for its key (`webhooks.on_voice`)."""
        options: dict[str, Any] = {"to": to, "from_": self._from, "url": callbacks.script or ""}
        if callbacks.status:
            options["status_callback"] = callbacks.status
            options["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
        call = await _translated(self._client.calls.create_async(**options), to)
        return Sent(call.sid, provider_status(call.status) or DeliveryStatus.QUEUED)

    async def lookup(self, *, channel: Channel, sid: str) -> ProviderRecord | None:
        try:
            if channel == Channel.SMS:
                message = await _translated(self._client.messages(sid).fetch_async(), "")
                return _message_record(message)
            call = await _translated(self._client.calls(sid).fetch_async(), "")
            return _call_record(call)
        except NotFound:  # only a real 404 says there is no such message; 401/403/400 are raised
            return None

    async def find_recent(self, *, channel: Channel, to: str, since: datetime) -> list[ProviderRecord]:
        if channel == Channel.SMS:
            messages = await _translated(self._client.messages.list_async(to=to, limit=50), to)
            records = [_message_record(m) for m in messages]
        else:
            calls = await _translated(self._client.calls.list_async(to=to, limit=50), to)
            records = [_call_record(c) for c in calls]
        return [r for r in records if r.created_at is None or r.created_at >= since]

    async def close(self) -> None:
        await self._http.close()


def _message_record(message: Any) -> ProviderRecord:
    return ProviderRecord(
        sid=message.sid,
        channel=Channel.SMS,
        to=message.to,
        status=provider_status(message.status) or DeliveryStatus.QUEUED,
        created_at=message.date_created,
        body=message.body,
    )


def _call_record(call: Any) -> ProviderRecord:
    return ProviderRecord(
        sid=call.sid,
        channel=Channel.VOICE,
        to=call.to,
        status=provider_status(call.status) or DeliveryStatus.QUEUED,
        created_at=call.date_created,
    )


async def _translated(request: Any, to: str) -> Any:
    """Await a twilio request, turning its failures into the pager's three kinds."""
    try:
        return await request
    except TwilioRestException as error:
        raise _from_rest(error, to) from error
    except TwilioException as error:  # list pages fail with the plain exception and the response attached
        response = error.args[1] if len(error.args) > 1 else None
        status = getattr(response, "status_code", 500)
        raise _from_rest(TwilioRestException(status, "", "page fetch failed"), to) from error
    except aiohttp.ClientConnectorError as error:  # refused or unreachable: nothing was sent
        raise NotProcessed(f"cannot connect to Twilio: {error.__class__.__name__}", code="connect") from error
    except TimeoutError as error:
        raise TemporaryError("Twilio did not answer in time", code="timeout") from error
    except aiohttp.ClientError as error:
        raise TemporaryError(f"Twilio connection broke: {error.__class__.__name__}", code="network") from error


def _from_rest(error: TwilioRestException, to: str) -> PagerError:
    code = str(error.code) if error.code else str(error.status)
    if error.status == 429 or error.code == 20429:
        return NotProcessed("Twilio is rate limiting", code=code)
    if error.status >= 500:
        return TemporaryError(f"Twilio server error {error.status}", code=code)
    if error.status == 404 and error.code in (None, 20404, 404):
        return NotFound("Twilio has no such resource", code=code)
    if error.status in (401, 403):  # our credentials or account: an operator must act, so say it loudly
        log.error("Twilio refused our credentials or account: HTTP %s code %s", error.status, code)
        return PermanentError(f"Twilio refused: {error.msg}", code=code)
    log.warning("Twilio refused a request for %s: HTTP %s code %s", mask_phone(to), error.status, code)
    return PermanentError(f"Twilio refused: {error.msg}", code=code)
