"""The rules every unsigned provider push passes (`pager_inbound`), whatever the provider: the secret path, a match
to a page we sent, once only, and a key press confirmed before it silences anything.

The provider here is a recording pager whose pushes are plain JSON signals, so that these tests are about the
rules; the Aliyun and Tencent stories (test_aliyun_stories, test_tencent_stories) push the clouds' own payloads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from carevisit.escalation import timeline
from carevisit.escalation.pager import FakePager, Signal
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import DeliveryEvent
from tests.escalation.conftest import CONTACT1, CONTACT2, World

SECRET = "k3QmZ8wYtR2pXvN6bL9sA4dF"


@dataclass
class PushingFake(FakePager):
    """Records what it sent (FakePager) and reads a push as a JSON list of signals."""

    name: str = "aliyun"
    push_types: tuple[str, ...] = ("SmsReport", "VoiceCallReport")
    confirms_calls: bool = True

    def parse_push(self, push_type: str, body: bytes) -> list[Signal]:
        try:
            items = json.loads(body)
            return [
                Signal(
                    kind=item["kind"],
                    to=item["to"],
                    sid=item.get("sid"),
                    reference=item.get("reference"),
                    status=DeliveryStatus(item["status"]) if item.get("status") else None,
                    key=item.get("key"),
                    text=item.get("text"),
                )
                for item in items
            ]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError("not a list of signals") from error

    def push_answer(self) -> dict[str, object]:
        return {"code": 0, "msg": "成功"}

    def answered(self, sid: str) -> None:
        """The provider's record of the call says it was answered."""
        self.records = [replace(r, status=DeliveryStatus.COMPLETED) if r.sid == sid else r for r in self.records]


@pytest.fixture
async def pushes(world: World) -> AsyncIterator[PushingFake]:
    real = world.esc.pager
    fake = PushingFake()
    world.esc.pager, world.esc.callback_secret = fake, SECRET
    yield fake
    world.esc.pager, world.esc.callback_secret = real, None


async def push(world: World, items: list[dict[str, Any]], *, path: str | None = None, method: str = "POST") -> int:
    url = world.public_url + (path or f"/pager/aliyun/{SECRET}/VoiceCallReport")
    async with aiohttp.ClientSession() as http, http.request(method, url, data=json.dumps(items)) as response:
        return response.status


async def call_to(world: World, number: str) -> str:
    [row] = await world.outbox(channel=Channel.VOICE, to_address=number)
    assert row.provider_sid
    return row.provider_sid


async def test_anything_but_the_secret_path_is_404_and_changes_nothing(world: World, pushes: PushingFake) -> None:
    incident_id = await world.open()
    await world.tick()
    sid = await call_to(world, CONTACT1)
    pushes.answered(sid)
    pressed = [{"kind": "key", "to": CONTACT1, "sid": sid, "key": "1"}]
    for path in (
        "/pager/aliyun/wrong-secret/VoiceCallReport",
        f"/pager/tencent/{SECRET}/VoiceCallReport",  # not the provider in use
        f"/pager/aliyun/{SECRET}/SomethingElse",
        f"/pager/aliyun/{SECRET}",
        "/pager/",
    ):
        assert await push(world, pressed, path=path) == 404
    assert await push(world, pressed, method="GET") == 404
    assert await push(world, pressed, method="PUT") == 404
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN
    assert await push(world, [{"kind": "nonsense"}]) == 400


async def test_a_forged_key_press_never_silences_the_emergency(world: World, pushes: PushingFake) -> None:
    incident_id = await world.open()
    await world.tick()
    sid = await call_to(world, CONTACT1)
    forged = [
        {"kind": "key", "to": CONTACT1, "sid": "made-up-call", "key": "1"},  # a call we never placed
        {"kind": "key", "to": CONTACT2, "sid": sid, "key": "1"},  # our call, another number
        {"kind": "key", "to": CONTACT1, "sid": None, "reference": "1", "key": "1"},  # no call id at all
    ]
    assert await push(world, forged) == 200
    # Our call to that callee, but the provider's own record says it was never answered.
    assert await push(world, [{"kind": "key", "to": CONTACT1, "sid": sid, "key": "1"}]) == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN

    # Answered, but the press arrives long after the call: nobody presses a key an hour into a call.
    pushes.answered(sid)
    world.clock.advance(timedelta(hours=1))
    assert await push(world, [{"kind": "key", "to": CONTACT1, "sid": sid, "key": "1"}]) == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_a_confirmed_key_press_acknowledges_once_with_its_evidence(world: World, pushes: PushingFake) -> None:
    incident_id = await world.open()
    await world.tick()
    sid = await call_to(world, CONTACT1)
    pushes.answered(sid)
    assert await push(world, [{"kind": "key", "to": CONTACT1, "sid": sid, "key": "2"}]) == 200
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN  # only 1 acknowledges
    pressed = [{"kind": "key", "to": CONTACT1, "sid": sid, "key": "1"}]
    assert await push(world, pressed) == 200
    assert await push(world, pressed) == 200  # pushed twice, as both clouds may
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"
    assert sum("✅" in c.text for c in await world.chats()) == 1  # the volunteer is told once
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    [acked] = [e for e in entries if e.event == "acknowledged"]
    assert acked.sid == sid and acked.facts == {"call_id": sid, "key": "1"}


async def test_a_receipt_before_the_send_answer_finds_its_row_and_a_duplicate_counts_once(
    world: World, pushes: PushingFake
) -> None:
    await world.open()
    await world.tick()
    [sms] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    before = await world.delivery_events()
    failed = [{"kind": "status", "to": CONTACT1, "sid": sms.provider_sid, "status": "undelivered"}]
    assert await push(world, failed, path=f"/pager/aliyun/{SECRET}/SmsReport") == 200
    assert await push(world, failed, path=f"/pager/aliyun/{SECRET}/SmsReport") == 200
    assert await world.delivery_events() == before + 1
    [row] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert row.status == DeliveryStatus.UNDELIVERED

    # A receipt naming only our reference (the send's answer was lost) still finds the row, if the number matches.
    [call] = await world.outbox(channel=Channel.VOICE, to_address=CONTACT1)
    wrong = [{"kind": "status", "to": CONTACT2, "reference": str(call.id), "status": "no_answer"}]
    right = [{"kind": "status", "to": CONTACT1, "reference": str(call.id), "sid": call.provider_sid, "status": "busy"}]
    assert await push(world, wrong) == 200
    assert await push(world, right) == 200
    async with world.sessions() as session:
        statuses = (
            await session.exec(select(DeliveryEvent.status).where(col(DeliveryEvent.outbox_id) == call.id))
        ).all()
    assert DeliveryStatus.BUSY in statuses and DeliveryStatus.NO_ANSWER not in statuses


async def test_a_domestic_sms_carries_a_code_for_the_fixed_page_instead_of_a_link(
    world: World, pushes: PushingFake
) -> None:
    incident_id = await world.open()
    await world.tick()
    [sms] = await world.outbox(channel=Channel.SMS, to_address=CONTACT1)
    assert sms.notice_kind == "family_emergency" and sms.notice_params
    code = sms.notice_params["code"]
    assert len(code) == 6 and code.isdigit()
    assert all("http" not in value for value in sms.notice_params.values())  # no link in any variable
    [call] = await world.outbox(channel=Channel.VOICE, to_address=CONTACT1)
    assert call.notice_kind == "family_emergency" and "code" not in (call.notice_params or {})

    headers = {"Origin": world.public_url}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{world.public_url}/a/ack", data={"code": code}, headers=headers) as response,
    ):
        assert response.status == 200
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "code"
