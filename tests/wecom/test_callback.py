"""/wecom/callback over HTTP, as the fake WeCom calls it (encrypted by wechatpy, an implementation independent of
ours): URL verification, a card tap that acknowledges and greys the card, and everything that must change nothing —
forged, stale, oversized, DOCTYPE'd or replayed callbacks, and taps by people who may not acknowledge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.parts.wecom import WeComPart
from carevisit.storage.enums import IncidentStatus
from carevisit.storage.models import AuditEntry
from carevisit.wecom.callback import CALLBACK_PATH
from tests.factories import make_coordinator
from tests.wecom.conftest import COORDINATOR, OTHER_AREA, STRANGER, VIEWER, Served
from tests.wecom.fake_wecom import FakeWeCom


async def card_update(served: Served, response_code: str) -> str | None:
    """What the tapped card's buttons now say, once the update after the answer has reached WeCom."""
    await served.part.wait_for_card_updates()
    return served.fake.card(response_code).replaced_with


async def test_url_verification_answers_the_plaintext_exactly(served: Served) -> None:
    assert await served.fake.verify_url(served.url)


async def test_url_verification_with_a_wrong_signature_is_refused(served: Served) -> None:
    query, _plain = served.fake.url_verification()
    query["msg_signature"] = "0" * 40
    async with aiohttp.ClientSession() as http, http.get(served.url, params=query) as response:
        assert response.status == 403


async def test_a_coordinators_tap_acknowledges_and_greys_the_card(served: Served, session: AsyncSession) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)

    assert await served.fake.tap(served.url, COORDINATOR, task_id, key) == (200, "success")

    incident = await served.incident(incident_id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by == f"coordinator:{served.world.coordinator.id}"
    assert incident.ack_channel == "wecom"
    entry = (await session.exec(select(AuditEntry).where(col(AuditEntry.action) == "incident.acknowledge"))).one()
    assert entry.details == {"channel": "wecom", "wecom_userid": COORDINATOR, "task_id": task_id}
    [(_, _, _, code)] = served.fake.taps
    assert await card_update(served, code) == "已确认"


async def test_a_replayed_tap_is_answered_and_changes_nothing(served: Served, session: AsyncSession) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    event = served.fake.template_card_event_xml(COORDINATOR, task_id, key)
    query, body = served.fake.callback_request(event)

    assert await served.fake.post_callback(served.url, query, body) == (200, "success")
    acknowledged = await served.incident(incident_id)
    for _ in range(2):  # WeCom's retry of the same request, and the same event sealed again
        assert await served.fake.post_callback(served.url, query, body) == (200, "success")
        assert (await served.fake.post_callback(served.url, *served.fake.callback_request(event)))[0] == 200

    assert await served.rows() == 1
    again = await served.incident(incident_id)
    assert (again.status, again.acknowledged_at) == (acknowledged.status, acknowledged.acknowledged_at)
    acks = await session.exec(select(AuditEntry.id).where(col(AuditEntry.action) == "incident.acknowledge"))
    assert len(acks.all()) == 1
    await served.part.wait_for_card_updates()
    assert served.fake.requests.count("/cgi-bin/message/update_template_card") == 1


async def test_a_later_tap_by_the_same_coordinator_is_told_it_is_acknowledged(served: Served, clock: FakeClock) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    await served.fake.tap(served.url, COORDINATOR, task_id, key)
    clock.advance(timedelta(seconds=3))
    await served.fake.tap(served.url, COORDINATOR, task_id, key)  # a second, later tap: a new event

    first, second = (code for *_, code in served.fake.taps)
    assert await card_update(served, first) == "已确认"
    assert await card_update(served, second) == "已确认"  # by them: not "someone else"
    assert (await served.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED


@pytest.mark.parametrize("who", [VIEWER, OTHER_AREA, STRANGER])
async def test_a_tap_by_someone_who_may_not_acknowledge_changes_nothing(served: Served, who: str) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(who, incident_id)

    assert await served.fake.tap(served.url, who, task_id, key) == (200, "success")

    incident = await served.incident(incident_id)
    assert incident.status == IncidentStatus.OPEN and incident.acknowledged_by is None
    [(*_, code)] = served.fake.taps
    assert await card_update(served, code) == "无权确认"


async def test_a_tap_after_another_coordinator_acknowledged_says_so(served: Served, session: AsyncSession) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    served.fake.add_member("qianhong")
    await make_coordinator(session, served.rt.clock, area=served.world.areas["street"], wecom_userid="qianhong")
    await session.commit()
    other_task, _ = await served.send_card("qianhong", incident_id)
    await served.fake.tap(served.url, "qianhong", other_task, key)

    await served.fake.tap(served.url, COORDINATOR, task_id, key)

    _, (*_, code) = served.fake.taps
    assert await card_update(served, code) == "已由他人确认"


# --- forged and malformed callbacks: refused, nothing written ---


async def forged(served: Served, **changes: str) -> tuple[int, str]:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    query, body = served.fake.callback_request(served.fake.template_card_event_xml(COORDINATOR, task_id, key))
    query.update(changes)
    answer = await served.fake.post_callback(served.url, query, body)
    assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
    assert await served.rows() == 0
    return answer


async def test_a_bad_signature_is_refused(served: Served) -> None:
    assert (await forged(served, msg_signature="f" * 40))[0] == 403


async def test_a_missing_signature_is_refused(served: Served) -> None:
    assert (await forged(served, msg_signature=""))[0] == 403


async def test_a_callback_of_another_corp_is_refused(served: Served, clock: FakeClock) -> None:
    other = FakeWeCom(clock, corp_id="ww9999othercorp999", token=served.fake.token, aes_key=served.fake.aes_key)
    await other.start()
    try:
        incident_id = await served.open_incident()
        task_id, key = await served.send_card(COORDINATOR, incident_id)
        query, body = other.callback_request(other.template_card_event_xml(COORDINATOR, task_id, key))
        assert (await other.post_callback(served.url, query, body))[0] == 403
        assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
        assert await served.rows() == 0
    finally:
        await other.close()


async def test_a_stale_timestamp_is_refused(served: Served, clock: FakeClock) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    query, body = served.fake.callback_request(served.fake.template_card_event_xml(COORDINATOR, task_id, key))
    clock.advance(timedelta(minutes=20))  # a callback recorded and replayed later
    assert (await served.fake.post_callback(served.url, query, body))[0] == 403
    assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
    assert await served.rows() == 0


async def test_an_oversized_body_is_refused_before_anything_is_read_into_xml(served: Served) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    query, body = served.fake.callback_request(served.fake.template_card_event_xml(COORDINATOR, task_id, key))
    padded = body.replace("</xml>", "<Pad>" + "x" * 70_000 + "</Pad></xml>")
    assert (await served.fake.post_callback(served.url, query, padded))[0] == 413
    assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
    assert await served.rows() == 0


async def test_a_doctype_in_the_envelope_is_refused(served: Served) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    query, body = served.fake.callback_request(served.fake.template_card_event_xml(COORDINATOR, task_id, key))
    doctyped = '<!DOCTYPE xml [<!ENTITY e "x">]>' + body
    assert (await served.fake.post_callback(served.url, query, doctyped))[0] == 403
    assert (await served.incident(incident_id)).status == IncidentStatus.OPEN
    assert await served.rows() == 0


async def test_a_card_update_wecom_refuses_leaves_the_acknowledgement_standing(served: Served) -> None:
    incident_id = await served.open_incident()
    task_id, key = await served.send_card(COORDINATOR, incident_id)
    served.fake.fail_next(502, path="/cgi-bin/message/update_template_card")

    assert await served.fake.tap(served.url, COORDINATOR, task_id, key) == (200, "success")

    [(*_, code)] = served.fake.taps
    assert await card_update(served, code) is None
    assert (await served.incident(incident_id)).status == IncidentStatus.ACKNOWLEDGED


async def test_two_processes_receiving_the_same_callback_at_once_handle_it_once(
    served: Served, session: AsyncSession
) -> None:
    second = WeComPart(served.rt)  # another web process on the same database
    app = web.Application()
    second.add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        incident_id = await served.open_incident()
        task_id, key = await served.send_card(COORDINATOR, incident_id)
        query, body = served.fake.callback_request(served.fake.template_card_event_xml(COORDINATOR, task_id, key))
        other_url = f"http://127.0.0.1:{server.port}{CALLBACK_PATH}"

        answers = await asyncio.gather(
            served.fake.post_callback(served.url, query, body), served.fake.post_callback(other_url, query, body)
        )

        assert answers == [(200, "success"), (200, "success")]
        assert await served.rows() == 1
        acks = await session.exec(select(AuditEntry.id).where(col(AuditEntry.action) == "incident.acknowledge"))
        assert len(acks.all()) == 1
        await served.part.wait_for_card_updates()
        await second.wait_for_card_updates()
        assert served.fake.requests.count("/cgi-bin/message/update_template_card") == 1
    finally:
        await server.close()
