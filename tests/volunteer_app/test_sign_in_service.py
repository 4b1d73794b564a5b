"""care.volunteer_sign_in on a real database: links work once and expire, devices sign in until revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.volunteer_sign_in import (
    issue_link_token,
    redeem,
    revoke_device,
    revoke_devices,
    short_label,
    signed_in_devices,
    token_hash,
    volunteer_for_device,
)
from carevisit.storage.models import Area, AuditEntry, Volunteer, VolunteerDevice, VolunteerSignInLink
from tests.factories import make_volunteer

UA = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36 MicroMessenger/8.0.47"


@pytest.fixture
async def volunteer(session: AsyncSession, clock: FakeClock, areas: dict[str, Area]) -> Volunteer:
    made = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    return made


async def _issue(session: AsyncSession, clock: FakeClock, volunteer: Volunteer, **options) -> str:  # type: ignore[no-untyped-def]
    assert volunteer.id is not None
    token = await issue_link_token(
        session, clock=clock, volunteer_id=volunteer.id, created_by="coordinator:1", **options
    )
    await session.commit()
    return token


async def test_only_the_hash_of_a_link_is_stored(session: AsyncSession, clock: FakeClock, volunteer: Volunteer) -> None:
    token = await _issue(session, clock, volunteer)
    rows = (await session.exec(select(VolunteerSignInLink))).all()
    assert [row.token_hash for row in rows] == [token_hash(token)]
    assert token not in rows[0].token_hash
    assert rows[0].expires_at == clock.now() + timedelta(hours=72)


async def test_a_link_signs_a_device_in_once(session: AsyncSession, clock: FakeClock, volunteer: Volunteer) -> None:
    token = await _issue(session, clock, volunteer)

    device = await redeem(session, clock=clock, token=token, label=UA)
    await session.commit()
    again = await redeem(session, clock=clock, token=token, label=UA)

    assert device is not None and again is None
    found = await volunteer_for_device(session, device_token=device)
    assert found is not None and found.id == volunteer.id
    stored = (await session.exec(select(VolunteerDevice))).one()
    assert stored.token_hash == token_hash(device) and stored.label == "Android · 微信"


async def test_an_expired_link_signs_nobody_in(session: AsyncSession, clock: FakeClock, volunteer: Volunteer) -> None:
    token = await _issue(session, clock, volunteer, valid_for=timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    assert await redeem(session, clock=clock, token=token, label=UA) is None
    assert (await session.exec(select(VolunteerDevice))).all() == []


async def test_unknown_and_malformed_tokens_sign_nobody_in(session: AsyncSession, clock: FakeClock) -> None:
    for token in ("", "x" * 43, "../../etc/passwd", "短" * 30, "a" * 5000):
        assert await redeem(session, clock=clock, token=token, label=UA) is None


async def test_a_link_of_a_deactivated_volunteer_signs_nobody_in(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    token = await _issue(session, clock, volunteer)
    volunteer.active = False
    session.add(volunteer)
    await session.commit()
    assert await redeem(session, clock=clock, token=token, label=UA) is None


async def test_no_link_for_an_inactive_or_unknown_volunteer(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    with pytest.raises(LookupError):
        await issue_link_token(session, clock=clock, volunteer_id=10_000, created_by="cli")
    volunteer.active = False
    session.add(volunteer)
    await session.commit()
    with pytest.raises(LookupError):
        await _issue(session, clock, volunteer)


async def test_a_deactivated_volunteers_devices_are_signed_out(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    device = await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA)
    await session.commit()
    assert device is not None
    volunteer.active = False
    session.add(volunteer)
    await session.commit()
    assert await volunteer_for_device(session, device_token=device) is None


async def test_revoking_signs_every_device_of_the_volunteer_out(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer, areas: dict[str, Area]
) -> None:
    assert volunteer.id is not None
    other = await make_volunteer(session, clock, communities=[areas["community"]])
    await session.commit()
    mine = [await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA) for _ in "ab"]
    theirs = await redeem(session, clock=clock, token=await _issue(session, clock, other), label=UA)
    await session.commit()

    count = await revoke_devices(session, clock=clock, volunteer_id=volunteer.id, by="coordinator:7")
    await session.commit()

    assert count == 2
    assert [await volunteer_for_device(session, device_token=token or "") for token in mine] == [None, None]
    assert await volunteer_for_device(session, device_token=theirs or "") is not None
    assert await signed_in_devices(session, volunteer_id=volunteer.id) == 0


async def test_signing_out_revokes_only_this_device(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    first = await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA)
    second = await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA)
    await session.commit()
    assert first and second

    assert await revoke_device(session, clock=clock, device_token=first) is True
    await session.commit()

    assert await volunteer_for_device(session, device_token=first) is None
    assert await volunteer_for_device(session, device_token=second) is not None
    assert await revoke_device(session, clock=clock, device_token=first) is False


async def test_last_seen_moves_at_most_hourly(session: AsyncSession, clock: FakeClock, volunteer: Volunteer) -> None:
    device = await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA)
    await session.commit()
    assert device
    signed_at = clock.now()
    clock.advance(timedelta(minutes=30))
    await volunteer_for_device(session, device_token=device, clock=clock)
    assert not session.dirty
    clock.advance(timedelta(minutes=31))
    await volunteer_for_device(session, device_token=device, clock=clock)
    await session.commit()
    stored = (await session.exec(select(VolunteerDevice))).one()
    assert stored.created_at == signed_at and stored.last_seen_at == clock.now()


async def test_issue_redeem_and_revoke_are_audited_with_ids_only(
    session: AsyncSession, clock: FakeClock, volunteer: Volunteer
) -> None:
    assert volunteer.id is not None
    device = await redeem(session, clock=clock, token=await _issue(session, clock, volunteer), label=UA)
    await revoke_devices(session, clock=clock, volunteer_id=volunteer.id, by="coordinator:3")
    await session.commit()
    entries = (await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()  # type: ignore[arg-type]
    assert [(e.actor, e.action, e.entity_id) for e in entries] == [
        ("coordinator:1", "app.link_issue", volunteer.id),
        (f"volunteer:{volunteer.id}", "app.sign_in", volunteer.id),
        ("coordinator:3", "app.devices_revoke", volunteer.id),
    ]
    assert entries[1].details and entries[1].details["via"] == "link"
    assert all(volunteer.name not in str(e.details) and (device or "") not in str(e.details) for e in entries)


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (UA, "Android · 微信"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) wxwork/4.1.0 MicroMessenger/7.0.1",
            "iPhone · 企业微信",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("x" * 300, "x" * 80),
        ("", ""),
    ],
)
def test_device_labels_are_short(agent: str, label: str) -> None:
    assert short_label(agent) == label
