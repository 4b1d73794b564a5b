"""Story 3: requests that only pretend to come from Twilio or Telegram are refused and change nothing."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from twilio.request_validator import RequestValidator

from carevisit.storage.enums import DeliveryStatus, IncidentStatus
from carevisit.storage.models import OutboxMessage
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, VOLUNTEER_TG, People, Stack, eventually
from tests.escalation.fake_twilio import ACCOUNT_SID, FROM

LANG = "zh_CN"


async def outbox_statuses(stack: Stack) -> list[tuple[int | None, str]]:
    async with stack.sessions() as session:
        rows = await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        return [(row.id, row.status) for row in rows.all()]


async def test_forged_twilio_and_telegram_webhooks_are_refused_and_change_nothing(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await sos(volunteer)
    await stack.paged(CONTACT1)
    await eventually(lambda: any("🔔" in m for m in stack.tg.texts(VOLUNTEER_TG)), "telling who was paged")
    [sms] = stack.twilio.sms_to(CONTACT1)
    [call] = stack.twilio.calls_to(CONTACT1)
    # Twilio has the pages; the worker records what Twilio answered a moment later. Start from that settled state.
    await stack.quiet()
    before = await outbox_statuses(stack)
    sms_row_id = next(row_id for row_id, _status in before if f"o={row_id}" in (sms.status_callback or ""))

    # Twilio: an acknowledging reply, a failed-delivery callback and a keypress, each forged or unsigned.
    inbound = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "f" * 32, "From": CONTACT1, "To": FROM, "Body": "1"}
    assert sms.status_callback and call.url
    status = {"AccountSid": ACCOUNT_SID, "MessageSid": sms.sid, "MessageStatus": "failed", "ErrorCode": "30003"}
    keypress = {"AccountSid": ACCOUNT_SID, "CallSid": call.sid, "CallStatus": "in-progress", "Digits": "1"}
    for url, params in (
        (f"{stack.base_url}/twilio/sms", inbound),
        (sms.status_callback, status),
        (call.url, keypress),
    ):
        for signature in ("forged", ""):
            code, _ = await stack.twilio.post_signed(url, params, signature=signature)
            assert code == 403, url
    # Signed with another account's token: still forged.
    other = RequestValidator("someone-elses-token").compute_signature(f"{stack.base_url}/twilio/sms", inbound)
    assert (await stack.twilio.post_signed(f"{stack.base_url}/twilio/sms", inbound, signature=other))[0] == 403

    # Telegram, in webhook mode: a wrong or missing secret token.
    messages_before = len(stack.tg.texts(VOLUNTEER_TG))
    updates_before = await stack.update_count()
    forged = {
        "update_id": 777001,
        "message": {
            "message_id": 1,
            "date": 1773108000,
            "chat": {"id": VOLUNTEER_TG, "type": "private"},
            "from": {"id": VOLUNTEER_TG, "is_bot": False, "first_name": "x"},
            "text": "/visits",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    assert await stack.post_update(forged, secret="wrong-secret") == 401
    assert await stack.post_update(forged, secret="") == 401
    await stack.quiet()

    incident = await stack.incident()
    assert incident.status == IncidentStatus.OPEN and incident.acknowledged_by is None
    assert await outbox_statuses(stack) == before
    assert await stack.update_count() == updates_before
    assert len(stack.tg.texts(VOLUNTEER_TG)) == messages_before

    # The genuine article still works: Twilio's signed delivery report is taken, the daughter's reply acknowledges.
    assert (await stack.twilio.set_status(sms.sid, "delivered"))[0] == 200
    assert (sms_row_id, DeliveryStatus.DELIVERED) in await outbox_statuses(stack)
    code, _ = await stack.twilio.inbound_sms(CONTACT1, "1")
    assert code == 200
    assert (await stack.incident()).status == IncidentStatus.ACKNOWLEDGED
