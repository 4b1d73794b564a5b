"""A realistic programme for page-wide checks: long Chinese names, elders with visits, problems, volunteers and an
incident whose timeline has pages, receipts, a call nobody answered, an acknowledgement and a handling record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.escalation import incidents
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.storage.enums import (
    AreaLevel,
    Channel,
    DeliveryStatus,
    ElderClass,
    ProblemCategory,
    RiskLevel,
    VisitStatus,
)
from carevisit.storage.models import Area, AuditEntry, DeliveryEvent, OutboxMessage, Problem
from tests.factories import make_area, make_contact, make_elder, make_organisation, make_visit, make_volunteer


@dataclass(frozen=True)
class Seeded:
    district: Area
    community: Area
    ids: dict[str, int | str]  # route parameter → a real value, for pages like /incidents/{incident_id}


LONG_COMMUNITY = "粤海街道科技园社区居民委员会第一网格服务站"
LONG_ADDRESS = "广东省深圳市南山区粤海街道科技园南区高新南七道深圳湾科技生态园十栋B座二十三层2301室"


async def seed_programme(session: AsyncSession, clock: FakeClock) -> Seeded:
    province = await make_area(session, code="44", name="广东省", level=AreaLevel.PROVINCE)
    city = await make_area(session, code="4403", name="深圳市", level=AreaLevel.CITY, parent=province)
    district = await make_area(session, code="440305", name="南山区", level=AreaLevel.DISTRICT, parent=city)
    street = await make_area(session, code="440305001", name="粤海街道办事处", level=AreaLevel.STREET, parent=district)
    community = await make_area(
        session, code="440305001001", name=LONG_COMMUNITY, level=AreaLevel.COMMUNITY, parent=street
    )
    other = await make_area(
        session, code="440305001002", name="高新技术产业园区社区", level=AreaLevel.COMMUNITY, parent=street
    )
    organisation = await make_organisation(session, name="深圳市南山区阳光长者关爱社会工作服务中心（民办非企业单位）")
    volunteer = await make_volunteer(
        session, clock, communities=[community, other], name="欧阳娜娜", organisation_id=organisation.id
    )
    await make_volunteer(session, clock, communities=[community], name="司马长风服务队队长")
    elders = [
        await make_elder(
            session,
            clock,
            community=community,
            name="诸葛秀英",
            address=LONG_ADDRESS,
            classes=int(ElderClass.ALONE | ElderClass.DISABLED | ElderClass.ADVANCED_AGE),
            risk=RiskLevel.HIGH,
        ),
        await make_elder(session, clock, community=community, name="慕容德华", address=LONG_ADDRESS),
        await make_elder(session, clock, community=other, name="上官婉清", address="科技园路1号"),
    ]
    contact = await make_contact(session, elder=elders[0], name="诸葛丽丽", relation="女儿", phone="+8613812345678")
    await make_visit(session, clock, elder=elders[0], volunteer_id=volunteer.id, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=elders[1], volunteer_id=volunteer.id)
    waiting = await make_visit(session, clock, elder=elders[1], slot=3)  # nobody took it; in both viewers' area
    await make_visit(  # overdue
        session,
        clock,
        elder=elders[1],
        slot=2,
        window_start=clock.now().date() - timedelta(days=9),
        window_end=clock.now().date() - timedelta(days=2),
        volunteer_id=volunteer.id,
    )
    problem = Problem(
        elder_id=elders[0].id or 0,
        reporter_volunteer_id=volunteer.id,
        category=ProblemCategory.HOME_SAFETY,
        description="卫生间没有扶手，老人夜间如厕时曾两次滑倒，需要安装扶手和防滑垫" * 2,
        urgent=True,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    session.add(problem)
    session.add(
        Problem(
            elder_id=elders[1].id or 0,
            category=ProblemCategory.CARER_OBLIGATION,
            description="子女长期不探望",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    incident = await incidents.open_incident(
        session,
        clock=clock,
        policy=DEFAULT_POLICY,
        elder_id=elders[0].id or 0,
        kind="fall",
        description="老人在卫生间滑倒，意识清醒，腿部疼痛",
        reporter_volunteer_id=volunteer.id,
    )
    await _paged(session, clock, incident_id=incident.id or 0, contact_id=contact.id or 0)
    clock.advance(timedelta(minutes=3))
    await incidents.acknowledge(
        session,
        clock=clock,
        incident_id=incident.id or 0,
        by=f"contact:{contact.id}",
        channel="sms",
        language="zh_CN",
    )
    incidents.add_note(
        session,
        clock=clock,
        incident_id=incident.id or 0,
        author=f"volunteer:{volunteer.id}",
        what_happened="老人在卫生间滑倒",
        actions_taken="拨打120，联系女儿",
        outcome="已送南山医院",
    )
    await session.commit()
    ids: dict[str, int | str] = {
        "incident_id": incident.id or 0,
        "elder_id": elders[0].id or 0,
        "problem_id": problem.id or 0,
        "volunteer_id": volunteer.id or 0,
        "visit_id": waiting.id or 0,
        "area_code": community.code,
        "code": community.code,
        "month": "2026-03",
        "kind": "elders",  # e.g. a roster upload of elders or volunteers
        "token": "not-uploaded",  # a roster upload's; the layout test uploads one where it can
    }
    return Seeded(district=district, community=community, ids=ids)


async def _paged(session: AsyncSession, clock: FakeClock, *, incident_id: int, contact_id: int) -> None:
    """What the escalation engine writes for step 1: its audit, an SMS that was delivered, a call not answered."""
    now = clock.now()
    session.add(
        AuditEntry(
            at=now,
            actor="system",
            action="incident.page",
            entity="incident",
            entity_id=incident_id,
            details={
                "step": 1,
                "repeat": False,
                "pages": [f"contact:{contact_id}:sms", f"contact:{contact_id}:voice"],
                "skipped": [],
            },
        )
    )
    for channel, statuses in (
        (Channel.SMS, [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]),
        (Channel.VOICE, [DeliveryStatus.RINGING, DeliveryStatus.NO_ANSWER]),
    ):
        row = OutboxMessage(
            idempotency_key=f"{incident_id}:0:contact:{contact_id}:{channel}",
            purpose="page",
            incident_id=incident_id,
            step=0,
            contact_id=contact_id,
            channel=channel,
            to_address="+8613812345678",
            body="【探访关爱】…",
            status=statuses[-1],
            not_before=now,
            created_at=now,
            provider_sid=f"SM{channel}0123456789abcdef0123456789abcdef",
        )
        session.add(row)
        await session.flush()
        for minute, status in enumerate(statuses, start=1):
            session.add(DeliveryEvent(outbox_id=row.id or 0, at=now + timedelta(minutes=minute), status=status))
    await session.flush()
