"""Resolution with a handling record and the all-clear, landlines, drills, opt-outs and per-number throttles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.dashboard import display
from carevisit.dashboard.texts import translator
from carevisit.escalation import incidents, timeline
from carevisit.escalation.config_file import EscalationConfig, Throttle
from carevisit.escalation.provider_limits import defaults
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus, PhoneKind
from carevisit.storage.models import EmergencyContact
from tests.escalation.conftest import CONTACT1, CONTACT2, COORDINATOR, World, build_world
from tests.escalation.fake_twilio import FakeTwilio


async def test_resolving_writes_the_record_and_sends_the_all_clear_to_those_paged(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.answer(call.sid, digits="1")
    async with world.sessions() as session:
        await incidents.resolve(
            session,
            clock=world.clock,
            incident_id=incident_id,
            by=f"volunteer:{world.volunteer_id}",
            what_happened="老人在家中跌倒",
            actions_taken="拨打120，联系女儿",
            outcome="已送医，家属陪同",
        )
        await session.commit()
    await world.tick(seconds=1)
    [_, all_clear] = world.twilio.sms_to(CONTACT1)
    assert "处理完毕" in (all_clear.body or "")
    assert world.twilio.sms_to(CONTACT2) == []  # never paged, so no all-clear either
    incident = await world.incident(incident_id)
    assert incident.status == IncidentStatus.RESOLVED
    async with world.sessions() as session:
        with pytest.raises(incidents.IncidentError, match="already resolved"):
            await incidents.resolve(
                session,
                clock=world.clock,
                incident_id=incident_id,
                by="cli",
                what_happened="",
                actions_taken="",
                outcome="x",
            )


async def test_a_page_text_not_yet_reconciled_still_gets_the_all_clear(world: World) -> None:
    """Twilio sent the page text but answered 500 and its list still lags: the row is uncertain when the incident
    is resolved. The family may well have it (its link may be what acknowledged), so the all-clear goes too."""
    world.twilio.list_lag = timedelta(seconds=20)
    world.twilio.fail_next(500, code=20500, process=True, kind="sms")
    incident_id = await world.open()
    await world.tick()
    [page] = await world.outbox(channel=Channel.SMS, purpose="page")
    assert page.status == DeliveryStatus.SENDING and page.provider_sid is None  # uncertain
    async with world.sessions() as session:
        await incidents.resolve(
            session,
            clock=world.clock,
            incident_id=incident_id,
            by="coordinator:1",
            what_happened="跌倒",
            actions_taken="联系女儿",
            outcome="已送医",
        )
        await session.commit()
    await world.tick(seconds=1)
    await world.tick(seconds=31)  # reconciled meanwhile: found in Twilio's list, not sent again
    [_, all_clear] = world.twilio.sms_to(CONTACT1)
    assert "处理完毕" in (all_clear.body or "")
    [page] = await world.outbox(channel=Channel.SMS, purpose="page")
    assert page.provider_sid == world.twilio.sms_to(CONTACT1)[0].sid


async def test_resolving_needs_an_outcome(world: World) -> None:
    incident_id = await world.open()
    async with world.sessions() as session:
        with pytest.raises(incidents.IncidentError, match="outcome"):
            await incidents.resolve(
                session,
                clock=world.clock,
                incident_id=incident_id,
                by="cli",
                what_happened="",
                actions_taken="",
                outcome="  ",
            )
    assert (await world.incident(incident_id)).status == IncidentStatus.OPEN


async def test_a_landline_contact_is_called_not_texted_and_an_unanswered_call_moves_on(
    world: World, session: AsyncSession
) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.phone, contact.phone_kind = "+861012345678", PhoneKind.FIXED_LINE
    await session.commit()
    await world.open()
    await world.tick()
    assert world.twilio.sms_to("+861012345678") == []
    [call] = world.twilio.calls_to("+861012345678")
    await world.twilio.set_status(call.sid, "no-answer")
    await world.tick(seconds=1)
    assert len(world.twilio.sms_to(CONTACT2)) == 1


async def test_a_drill_is_marked_goes_the_same_way_and_records_who_acknowledged(world: World) -> None:
    drill_id = await world.open(kind="drill", drill=True)
    await world.tick()
    [sms] = world.twilio.sms_to(CONTACT1)
    assert "演练" in (sms.body or "")
    await world.tick(minutes=5)
    status, _ = await world.twilio.inbound_sms(CONTACT2, "OK")
    assert status == 200
    incident = await world.incident(drill_id)
    assert incident.is_drill and incident.acknowledged_by == f"contact:{world.contacts[1].id}"


async def test_an_unacknowledged_drill_ends_after_its_steps_instead_of_repeating(world: World) -> None:
    drill_id = await world.open(kind="drill", drill=True)
    await world.tick()
    await world.tick(minutes=5)
    await world.tick(minutes=5)
    await world.tick(minutes=10)
    await world.tick(minutes=15)
    assert len(world.twilio.sms_to(COORDINATOR)) == 1
    incident = await world.incident(drill_id)
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_by == "system"


async def test_stop_reply_opts_the_number_out_of_family_reports(world: World, session: AsyncSession) -> None:
    contact = await session.get(EmergencyContact, world.contacts[0].id)
    assert contact is not None
    contact.sms_opt_in = True
    await session.commit()
    status, _ = await world.twilio.inbound_sms(CONTACT1, "退订")
    assert status == 200
    await session.refresh(contact)
    assert contact.sms_opt_in is False and contact.opted_out_at is not None


async def test_per_number_caps_hold_back_pages_beyond_the_limit(
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    fake_twilio: FakeTwilio,
    world_data: dict[str, Any],
) -> None:
    config = EscalationConfig(throttle=Throttle(period=timedelta(hours=1), sms_per_number=2, calls_per_number=2))
    world, server = await build_world(session_factory, clock, fake_twilio, world_data, config=config)
    try:
        for _ in range(3):
            await world.open()
        await world.tick()
        assert len(world.twilio.sms_to(CONTACT1)) == 2
        held = [r for r in await world.outbox(channel=Channel.SMS) if r.error_code == "throttled"]
        assert len(held) == 1 and held[0].status == DeliveryStatus.CANCELED
        # Next hour the cap has room again.
        clock.advance(timedelta(hours=1))
        await world.open()
        await world.tick()
        assert len(world.twilio.sms_to(CONTACT1)) == 3
    finally:
        await world.esc.pager.close()
        await server.close()


async def test_coordinator_in_the_dashboard_acknowledges_first_and_later_ones_lose(world: World) -> None:
    incident_id = await world.open()
    await world.tick()
    async with world.sessions() as session:
        first = await incidents.acknowledge(
            session,
            clock=world.clock,
            incident_id=incident_id,
            by=f"coordinator:{world.coordinator_id}",
            channel="dashboard",
        )
        await session.commit()
    [call] = world.twilio.calls_to(CONTACT1)
    await world.twilio.answer(call.sid, digits="1")
    incident = await world.incident(incident_id)
    assert first and incident.ack_channel == "dashboard"
    async with world.sessions() as session:
        rows = (await session.exec(select(EmergencyContact))).all()
    assert rows  # nothing else changed


async def test_an_incident_opened_under_tencents_limits_records_which_pages_they_would_refuse(world: World) -> None:
    world.esc.limits = defaults("tencent")  # 2 SMS a day per number: the coordinators' third round is refused
    incident_id = await world.open()
    await world.tick()
    await world.tick(minutes=5)
    async with world.sessions() as session:
        entries = await timeline.incident_timeline(session, incident_id=incident_id)
    [noted] = [e for e in entries if e.what == "incident.limits"]  # once, at the first step
    assert any(r["target"] == "coordinators" and r["channel"] == "sms" for r in noted.facts["refusals"])
    sentence = display.step_sentence(translator("zh_CN"), noted)
    assert sentence.startswith("注意：若一直无人确认，服务商的频率限制将拒绝") and "社区工作人员的短信" in sentence
    assert "coordinators" not in sentence and "sms" not in sentence
