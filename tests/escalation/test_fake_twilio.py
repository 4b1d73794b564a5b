"""The fake Twilio server against the official twilio client: it must answer and fail as Twilio does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from carevisit.care.clock import FakeClock
from carevisit.escalation.twilio_pager import RebasedHttpClient
from tests.escalation.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_CREATE,
    CALL_FETCH,
    FROM,
    KINDS,
    MESSAGE_CREATE,
    MESSAGE_FETCH,
    MESSAGE_LIST,
    FakeTwilio,
    RandomFaults,
)

TO = "+8613900000001"
TWIML = "http://127.0.0.1:9/twilio/voice?o=1"


def official_client(twilio: FakeTwilio, *, token: str = AUTH_TOKEN, timeout: float = 2.0) -> Client:
    assert twilio.server is not None
    http = RebasedHttpClient(base=str(twilio.server.make_url("")), timeout=timeout)
    return Client(ACCOUNT_SID, token, http_client=http)


@pytest.fixture
async def client(fake_twilio: FakeTwilio) -> AsyncIterator[Client]:
    made = official_client(fake_twilio)
    yield made
    await made.http_client.close()  # type: ignore[attr-defined]


def status_of(error: Exception) -> int:
    """The HTTP status in a failure the client raised (list pages raise the plain exception, response attached)."""
    if isinstance(error, TwilioRestException):
        return error.status
    return error.args[1].status_code  # type: ignore[no-any-return]


async def request(client: Client, kind: str, sids: dict[str, str]) -> object:
    """One request of `kind` through the official client (fetches ask for `sids`' message or call)."""
    if kind == MESSAGE_CREATE:
        return await client.messages.create_async(to=TO, from_=FROM, body="hi")
    if kind == CALL_CREATE:
        return await client.calls.create_async(to=TO, from_=FROM, url=TWIML)
    if kind == MESSAGE_FETCH:
        return await client.messages(sids["sms"]).fetch_async()
    if kind == CALL_FETCH:
        return await client.calls(sids["call"]).fetch_async()
    if kind == MESSAGE_LIST:
        return await client.messages.list_async(to=TO, limit=50)
    return await client.calls.list_async(to=TO, limit=50)


async def test_a_message_and_a_call_are_created_fetched_and_listed(
    client: Client, fake_twilio: FakeTwilio, clock: FakeClock
) -> None:
    message = await client.messages.create_async(to=TO, from_=FROM, body="王秀英跌倒", status_callback=TWIML)
    call = await client.calls.create_async(to=TO, from_=FROM, url=TWIML)
    assert message.sid.startswith("SM") and message.status == "queued" and message.body == "王秀英跌倒"
    assert call.sid.startswith("CA") and call.status == "queued"
    assert (await client.messages(message.sid).fetch_async()).to == TO
    assert (await client.calls(call.sid).fetch_async()).sid == call.sid
    clock.advance(fake_twilio.list_lag)
    assert [m.sid for m in await client.messages.list_async(to=TO, limit=50)] == [message.sid]
    assert [c.sid for c in await client.calls.list_async(to=TO, limit=50)] == [call.sid]
    assert fake_twilio.sms_to(TO)[0].status_callback == TWIML


async def test_lists_lag_a_create_until_the_clock_moves_on(
    client: Client, fake_twilio: FakeTwilio, clock: FakeClock
) -> None:
    message = await client.messages.create_async(to=TO, from_=FROM, body="hi")
    call = await client.calls.create_async(to=TO, from_=FROM, url=TWIML)
    assert await client.messages.list_async(to=TO, limit=50) == []  # "no trace", and it is a lie
    assert await client.calls.list_async(to=TO, limit=50) == []
    assert (await client.messages(message.sid).fetch_async()).sid == message.sid  # a fetch by sid is consistent
    clock.advance(fake_twilio.list_lag - timedelta(seconds=1))
    assert await client.calls.list_async(to=TO, limit=50) == []
    clock.advance(timedelta(seconds=1))
    assert [c.sid for c in await client.calls.list_async(to=TO, limit=50)] == [call.sid]


async def test_a_list_is_paged_newest_first_and_the_client_follows_the_pages(
    client: Client, fake_twilio: FakeTwilio, clock: FakeClock
) -> None:
    sids = [(await client.messages.create_async(to=TO, from_=FROM, body=f"n{i}")).sid for i in range(7)]
    await client.messages.create_async(to="+8613900000099", from_=FROM, body="other")
    clock.advance(fake_twilio.list_lag)
    listed = await client.messages.list_async(to=TO, page_size=3, limit=100)
    assert [m.sid for m in listed] == list(reversed(sids))
    assert len([r for r in fake_twilio.requests if r == ("GET", MESSAGE_LIST)]) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_fail_next_fails_only_the_kind_it_is_aimed_at(client: Client, fake_twilio: FakeTwilio, kind: str) -> None:
    sids = {
        "sms": (await client.messages.create_async(to=TO, from_=FROM, body="hi")).sid,
        "call": (await client.calls.create_async(to=TO, from_=FROM, url=TWIML)).sid,
    }
    fake_twilio.fail_next(503, code=20503, kind=kind)
    for other in KINDS:
        if other != kind:
            await request(client, other, sids)  # every other kind still answers
    with pytest.raises(TwilioException) as raised:
        await request(client, kind, sids)
    assert status_of(raised.value) == 503
    await request(client, kind, sids)  # only the next one failed


@pytest.mark.parametrize(
    ("status", "code"), [(400, 21614), (403, 20008), (429, 20429), (500, 20500), (401, 20003), (404, 20404)]
)
async def test_any_status_and_code_comes_back_as_twilios_json_error(
    client: Client, fake_twilio: FakeTwilio, status: int, code: int
) -> None:
    fake_twilio.fail_next(status, code=code, kind=MESSAGE_CREATE)
    with pytest.raises(TwilioRestException) as raised:
        await client.messages.create_async(to=TO, from_=FROM, body="hi")
    assert (raised.value.status, raised.value.code) == (status, code)
    assert fake_twilio.sms_to(TO) == []


async def test_a_failure_after_acting_has_sent_the_message_anyway(
    client: Client, fake_twilio: FakeTwilio, clock: FakeClock
) -> None:
    fake_twilio.fail_next(500, process=True, kind=MESSAGE_CREATE)
    with pytest.raises(TwilioRestException) as raised:
        await client.messages.create_async(to=TO, from_=FROM, body="hi")
    assert raised.value.status == 500
    [sent] = fake_twilio.sms_to(TO)
    clock.advance(fake_twilio.list_lag)
    assert [m.sid for m in await client.messages.list_async(to=TO, limit=50)] == [sent.sid]


async def test_a_create_can_time_out_on_our_side_although_twilio_took_it(fake_twilio: FakeTwilio) -> None:
    impatient = official_client(fake_twilio, timeout=0.2)
    try:
        fake_twilio.hang_next(0.6, kind=CALL_CREATE)
        with pytest.raises(TimeoutError):
            await impatient.calls.create_async(to=TO, from_=FROM, url=TWIML)
        assert len(fake_twilio.calls_to(TO)) == 1  # recorded: the call is being placed
        fake_twilio.hang_next(0.05, kind=MESSAGE_CREATE)  # merely slow: answered within the timeout
        assert (await impatient.messages.create_async(to=TO, from_=FROM, body="hi")).status == "queued"
    finally:
        await impatient.http_client.close()  # type: ignore[attr-defined]


async def test_wrong_credentials_get_twilios_401(fake_twilio: FakeTwilio) -> None:
    wrong = official_client(fake_twilio, token="not-the-token")
    try:
        with pytest.raises(TwilioRestException) as raised:
            await wrong.messages.create_async(to=TO, from_=FROM, body="hi")
        assert (raised.value.status, raised.value.code) == (401, 20003)
        with pytest.raises(TwilioException) as listing:
            await wrong.calls.list_async(to=TO, limit=5)
        assert status_of(listing.value) == 401
    finally:
        await wrong.http_client.close()  # type: ignore[attr-defined]
    assert fake_twilio.records == []


async def test_an_unknown_sid_is_a_404_with_code_20404(client: Client) -> None:
    for fetch in (client.messages("SM" + "a" * 32).fetch_async, client.calls("CA" + "a" * 32).fetch_async):
        with pytest.raises(TwilioRestException) as raised:
            await fetch()
        assert (raised.value.status, raised.value.code) == (404, 20404)


@pytest.mark.parametrize(
    ("what", "code"),
    [("no body", 21602), ("bad number", 21211), ("no from", 21603), ("call without url", 21205)],
)
async def test_bad_requests_are_refused_as_twilio_refuses_them(
    client: Client, fake_twilio: FakeTwilio, what: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        if what == "no body":
            await client.messages.create_async(to=TO, from_=FROM, body="")
        elif what == "bad number":
            await client.messages.create_async(to="13900000001", from_=FROM, body="hi")
        elif what == "no from":
            await client.messages.create_async(to=TO, body="hi")
        else:
            await client.calls.create_async(to=TO, from_=FROM, url="/relative")
    assert (raised.value.status, raised.value.code) == (400, code)
    assert fake_twilio.records == []


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, str]], list[int]]]:
    """A webhook that checks Twilio's signature, records what it got, and answers 500 when told to."""
    validator = RequestValidator(AUTH_TOKEN)
    seen: list[dict[str, str]] = []
    fail: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = str(request.url)
        assert validator.validate(url, form, request.headers["X-Twilio-Signature"]), "a badly signed callback"
        seen.append(form)
        if fail:
            return web.Response(status=fail.pop())
        if "Body" in form:
            return web.Response(text="<Response><Message>已确认收到</Message></Response>", content_type="text/xml")
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/hook?o=7")), seen, fail
    await server.close()


async def test_callbacks_are_signed_and_can_arrive_late_out_of_order_and_twice(
    client: Client, fake_twilio: FakeTwilio, receiver: tuple[str, list[dict[str, str]], list[int]]
) -> None:
    url, seen, _ = receiver
    message = await client.messages.create_async(to=TO, from_=FROM, body="hi", status_callback=url)
    sent = fake_twilio.status_callback(message.sid, "sent")
    delivered = fake_twilio.status_callback(message.sid, "delivered")
    assert (await fake_twilio.deliver(delivered))[0] == 200
    assert (await fake_twilio.deliver(sent))[0] == 200  # late
    assert (await fake_twilio.replay(delivered))[0] == 200  # the same signed request again
    assert (await fake_twilio.replay(delivered))[0] == 200
    assert [s["MessageStatus"] for s in seen] == ["delivered", "sent", "delivered", "delivered"]
    assert {s["MessageSid"] for s in seen} == {message.sid}


async def test_a_callback_we_answer_with_5xx_is_retried_once(
    client: Client, fake_twilio: FakeTwilio, receiver: tuple[str, list[dict[str, str]], list[int]]
) -> None:
    url, seen, fail = receiver
    call = await client.calls.create_async(to=TO, from_=FROM, url=url, status_callback=url)
    fail.extend([500, 500])
    status, _ = await fake_twilio.set_status(call.sid, "ringing")
    assert status == 500 and len(seen) == 2  # tried, retried once, then given up
    assert [s["CallStatus"] for s in seen] == ["ringing", "ringing"]


async def test_a_message_in_our_answer_to_an_inbound_sms_is_sent_back(
    fake_twilio: FakeTwilio, receiver: tuple[str, list[dict[str, str]], list[int]]
) -> None:
    url, seen, _ = receiver
    fake_twilio.sms_webhook = url
    first = fake_twilio.inbound_callback(TO, "1")
    assert (await fake_twilio.deliver(first))[0] == 200
    assert (await fake_twilio.replay(first))[0] == 200
    assert seen[0]["MessageSid"] == seen[1]["MessageSid"]  # a replay carries the same sid
    assert [r.body for r in fake_twilio.replies_to(TO)] == ["已确认收到", "已确认收到"]
    assert fake_twilio.sms_to(TO) == []  # replies are not messages our service created


async def test_random_faults_fail_their_share_of_creates_only(client: Client, clock: FakeClock) -> None:
    faulty = FakeTwilio(clock, faults=RandomFaults(error_rate=0.3, timeout_rate=0.0, seed=1))
    await faulty.start()
    harsh = official_client(faulty)
    try:
        failed = 0
        for _ in range(40):
            try:
                await harsh.messages.create_async(to=TO, from_=FROM, body="hi")
            except TwilioRestException as error:
                assert error.status == 500
                failed += 1
        assert 4 <= failed <= 20 and len(faulty.sms_to(TO)) == 40 - failed
        clock.advance(faulty.list_lag)
        assert len(await harsh.messages.list_async(to=TO, limit=100)) == 40 - failed  # lists never fail at random
    finally:
        await harsh.http_client.close()  # type: ignore[attr-defined]
        await faulty.close()
