"""A realistic sample programme for `carevisit demo`: one district, three streets, twelve communities,
several hundred elders with emergency contacts, dozens of volunteers from a few organisations.

Deterministic for a given seed, so a demo looks the same every time. The phone numbers are made up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.areas import child_path
from carevisit.care.clock import Clock
from carevisit.dashboard.accounts import hash_password
from carevisit.storage.enums import (
    AreaLevel,
    CoordinatorRole,
    ElderClass,
    ElderStatus,
    Gender,
    OrganisationKind,
    PhoneKind,
    RiskLevel,
    VisitStatus,
    VolunteerKind,
)
from carevisit.storage.models import (
    Area,
    Coordinator,
    Elder,
    EmergencyContact,
    Organisation,
    Visit,
    Volunteer,
    VolunteerCommunity,
)

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "carevisit-demo"

_STREETS = {
    "粤海街道": ["科技园社区", "高新社区", "海珠社区", "铜鼓社区"],
    "南头街道": ["南头城社区", "田厦社区", "大新社区", "星海名城社区"],
    "沙河街道": ["华侨城社区", "白石洲社区", "沙河社区", "香山里社区"],
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
# Two-character given names, read in pairs. Enough for about 2,600 different names: the demo needs about 1,000
# (volunteers, elders and their contacts), none of them used twice.
_GIVEN = (
    "秀英桂兰玉兰凤英淑珍建国志强国华德明文华明华秀珍春梅玉珍桂英建华永福长生金花淑芬秀兰振华"
    "海燕丽华红梅晓东立新卫东小军雪梅丽娟国庆建军春生美玲志红伟民宏伟秋菊冬梅淑华玉梅国强"
    "振国桂芳惠珍爱民淑英文斌丽萍志明家豪子涵"
)
_ROADS = ["科苑路", "深南大道", "南海大道", "学府路", "沙河西路", "侨城东路", "南新路", "桃园路", "后海大道"]
_RELATIONS = ["儿子", "女儿", "儿媳", "女婿", "侄子", "外甥女", "邻居", "孙子"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    streets: int
    communities: int
    organisations: int
    elders: int
    contacts: int
    volunteers: int
    coordinators: int


async def seed_demo(session: AsyncSession, *, clock: Clock, seed: int = 2026) -> DemoSummary:
    """Fill an empty database with the sample programme. Does not commit."""
    rng = random.Random(seed)
    names = _Names(rng)
    now = clock.now()
    province = _area(session, None, "44", "广东省", AreaLevel.PROVINCE)
    city = _area(session, await _flushed(session, province), "4403", "深圳市", AreaLevel.CITY)
    district = _area(session, await _flushed(session, city), "440305", "南山区", AreaLevel.DISTRICT)
    await session.flush()

    organisations = [
        Organisation(name="南山区阳光社工服务中心", kind=OrganisationKind.SOCIAL_ORGANISATION, area_id=district.id),
        Organisation(name="南山区颐年护理院", kind=OrganisationKind.CARE_INSTITUTION, area_id=district.id),
        Organisation(name="粤海长者日间照料中心", kind=OrganisationKind.DAY_CARE_CENTRE, area_id=district.id),
        Organisation(name="南山区志愿者联合会", kind=OrganisationKind.SOCIAL_ORGANISATION, area_id=district.id),
    ]
    session.add_all(organisations)

    communities: list[Area] = []
    streets: list[Area] = []
    for s_index, (street_name, community_names) in enumerate(_STREETS.items(), start=1):
        street = _area(session, district, f"440305{s_index:03d}", street_name, AreaLevel.STREET)
        await session.flush()
        streets.append(street)
        for c_index, community_name in enumerate(community_names, start=1):
            communities.append(
                _area(session, street, f"{street.code}{c_index:03d}", community_name, AreaLevel.COMMUNITY)
            )
    await session.flush()

    coordinators = [
        Coordinator(
            name="区民政局 演示账号",
            username=DEMO_USERNAME,
            password_hash=hash_password(DEMO_PASSWORD),
            role=CoordinatorRole.ADMIN,
            area_id=district.id,
            created_at=now,
        ),
        *(
            Coordinator(
                name=f"{street.name}社工站",
                phone=_mobile(rng),
                phone_kind=PhoneKind.MOBILE,
                username=f"street{index}",
                password_hash=hash_password(DEMO_PASSWORD),
                area_id=street.id,
                created_at=now,
            )
            for index, street in enumerate(streets, start=1)
        ),
    ]
    session.add_all(coordinators)

    volunteers: list[Volunteer] = []
    for index in range(1, 3 * len(communities) + 1):
        volunteer = Volunteer(
            external_id=f"V{index:04d}",
            name=names.new(),
            phone=_mobile(rng),
            phone_kind=PhoneKind.MOBILE,
            kind=rng.choice(list(VolunteerKind)),
            organisation_id=rng.choice(organisations).id,
            capacity=rng.choice([12, 15, 20]),
            created_at=now,
            updated_at=now,
        )
        volunteers.append(volunteer)
    session.add_all(volunteers)
    await session.flush()
    for index, volunteer in enumerate(volunteers):
        home = communities[index % len(communities)]
        session.add(VolunteerCommunity(volunteer_id=volunteer.id, area_id=home.id))
        if index % 4 == 0:  # some serve a neighbouring community too
            neighbour = communities[(index + 1) % len(communities)]
            session.add(VolunteerCommunity(volunteer_id=volunteer.id, area_id=neighbour.id))

    elders: list[Elder] = []
    for community in communities:
        for _ in range(30):
            elders.append(_elder(rng, names, len(elders) + 1, community, now))
    session.add_all(elders)
    await session.flush()
    contacts = [contact for elder in elders for contact in _contacts(rng, names, elder)]
    session.add_all(contacts)
    await session.flush()
    return DemoSummary(
        streets=len(streets),
        communities=len(communities),
        organisations=len(organisations),
        elders=len(elders),
        contacts=len(contacts),
        volunteers=len(volunteers),
        coordinators=len(coordinators),
    )


def _area(session: AsyncSession, parent: Area | None, code: str, name: str, level: AreaLevel) -> Area:
    area = Area(
        code=code, name=name, level=level, parent_id=parent.id if parent else None, path=child_path(parent, code)
    )
    session.add(area)
    return area


async def _flushed(session: AsyncSession, area: Area) -> Area:
    await session.flush()
    return area


def _elder(rng: random.Random, names: _Names, number: int, community: Area, now) -> Elder:  # type: ignore[no-untyped-def]
    risk = rng.choices(list(RiskLevel), weights=[15, 35, 50])[0]
    classes = ElderClass(0)
    for flag, chance in (
        (ElderClass.ALONE, 0.45),
        (ElderClass.EMPTY_NEST, 0.35),
        (ElderClass.DISABLED, 0.15),
        (ElderClass.SEVERELY_HANDICAPPED, 0.05),
        (ElderClass.BEREAVED_ONE_CHILD, 0.05),
        (ElderClass.ADVANCED_AGE, 0.30),
    ):
        if rng.random() < chance:
            classes |= flag
    if not classes:
        classes = ElderClass.EMPTY_NEST
    status = rng.choices([ElderStatus.ACTIVE, ElderStatus.PAUSED, ElderStatus.MOVED], weights=[94, 4, 2])[0]
    has_phone = rng.random() < 0.6
    return Elder(
        external_id=f"{community.code}-{number:05d}",
        name=names.new(),
        gender=rng.choice([Gender.FEMALE, Gender.MALE]),
        birth_date=date(rng.randint(1928, 1960), rng.randint(1, 12), rng.randint(1, 28)),
        phone=_mobile(rng) if has_phone else None,
        phone_kind=PhoneKind.MOBILE if has_phone else None,
        address=f"{rng.choice(_ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}",
        community_id=community.id,  # type: ignore[arg-type]
        classes=int(classes),
        risk=risk,
        consent=rng.random() < 0.96,
        status=status,
        enrolled_on=date(2025, rng.randint(1, 12), 1),
        created_at=now,
        updated_at=now,
    )


def _contacts(rng: random.Random, names: _Names, elder: Elder) -> list[EmergencyContact]:
    contacts = [
        EmergencyContact(
            elder_id=elder.id,  # type: ignore[arg-type]
            position=1,
            name=names.new(),
            relation=rng.choice(_RELATIONS),
            phone=_mobile(rng),
            phone_kind=PhoneKind.MOBILE,
            is_carer=True,
            sms_opt_in=rng.random() < 0.5,
        )
    ]
    if rng.random() < 0.7:
        landline = rng.random() < 0.2
        contacts.append(
            EmergencyContact(
                elder_id=elder.id,  # type: ignore[arg-type]
                position=2,
                name=names.new(),
                relation=rng.choice(_RELATIONS),
                phone=f"+86755{rng.randint(2000_0000, 8999_9999)}" if landline else _mobile(rng),
                phone_kind=PhoneKind.FIXED_LINE if landline else PhoneKind.MOBILE,
            )
        )
    return contacts


class _Names:
    """Made-up names, each given once: a volunteer is never also an elder or an elder's 女婿 on the same screen,
    and two elders never share a name (a coordinator would take them for one person)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._given: set[str] = set()

    def new(self) -> str:
        for _ in range(1000):  # the pool is over twice what the demo needs: a free name comes within a few draws
            name = _person(self._rng)
            if name not in self._given:
                self._given.add(name)
                return name
        raise RuntimeError("the demo's name pool is used up: add given names to _GIVEN")


def _person(rng: random.Random) -> str:
    given = rng.randrange(0, len(_GIVEN) - 1, 2)
    return rng.choice(_SURNAMES) + _GIVEN[given : given + 2]


def _mobile(rng: random.Random) -> str:
    return f"+86{rng.choice(['135', '136', '137', '138', '139', '150', '186', '188'])}{rng.randint(0, 9999_9999):08d}"


async def demo_volunteer(session: AsyncSession, *, month: str) -> Volunteer | None:
    """The volunteer whose phone the demo hands out: the active one with the most visits still to do this month."""
    open_visits = func.count(col(Visit.id))
    found = await session.exec(
        select(Volunteer)
        .join(Visit, col(Visit.volunteer_id) == col(Volunteer.id))
        .where(col(Volunteer.active).is_(True), Visit.month == month, Visit.status == VisitStatus.PLANNED)
        .group_by(col(Volunteer.id))
        .order_by(open_visits.desc(), col(Volunteer.external_id))
        .limit(1)
    )
    return found.first()
