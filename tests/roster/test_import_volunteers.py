"""Importing volunteers: organisations by name, the communities they serve, re-import in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import AreaLevel, PhoneKind, VolunteerKind
from carevisit.storage.models import Area, AuditEntry, Organisation, Volunteer, VolunteerCommunity
from tests.factories import make_area, make_area_tree, make_organisation
from tests.roster.conftest import Importer
from tests.roster.files import FORMATS, VOLUNTEER_HEADER_EN, VOLUNTEER_HEADER_ZH, volunteer_row, write_csv, write_roster
from tests.roster.queries import count


@pytest.fixture
async def areas(session: AsyncSession) -> dict[str, Area]:
    tree = await make_area_tree(session)
    await session.commit()
    return tree


async def volunteer(session: AsyncSession, external_id: str) -> Volunteer:
    return (await session.exec(select(Volunteer).where(Volunteer.external_id == external_id))).one()


async def served(session: AsyncSession, volunteer_id: int | None) -> set[int]:
    query = select(VolunteerCommunity.area_id).where(VolunteerCommunity.volunteer_id == volunteer_id)
    return set((await session.exec(query)).all())


@pytest.mark.parametrize("fmt", FORMATS)
async def test_volunteers_join_their_organisation_and_communities(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area], fmt: str
) -> None:
    existing = await make_organisation(session, name="南山区颐年护理院")
    await session.commit()
    rows = [
        volunteer_row("V1", communities="科技园社区、高新社区"),
        volunteer_row("V2", name="刘玉兰", phone="13700137001", kind="机构人员", organization="南山区颐年护理院",
                      communities="沙河街道/华侨城社区", capacity=""),
        volunteer_row("V3", phone="13700137002", kind="", organization="", communities="高新社区"),
        volunteer_row("V4", phone="13700137003", communities="华侨城社区"),
    ]  # fmt: skip
    result = await importer.volunteers(write_roster(tmp_path, "volunteers", VOLUNTEER_HEADER_ZH, rows, fmt))

    assert result.ok and result.written, result.problems
    assert (result.inserted, result.organisations_created) == (4, 1)
    first = await volunteer(session, "V1")
    assert (first.name, first.phone, first.phone_kind) == ("张志强", "+8613700137000", PhoneKind.MOBILE)
    assert (first.kind, first.capacity) == (VolunteerKind.SOCIAL_WORKER, 15)
    assert await served(session, first.id) == {areas["community"].id, areas["community2"].id}
    second = await volunteer(session, "V2")
    assert (second.organisation_id, second.kind, second.capacity) == (existing.id, VolunteerKind.INSTITUTION_STAFF, 20)
    assert await served(session, second.id) == {areas["other_community"].id}
    third = await volunteer(session, "V3")
    assert (third.organisation_id, third.kind) == (None, VolunteerKind.VOLUNTEER)
    # One new organisation, shared by V1 and V4.
    assert (await volunteer(session, "V4")).organisation_id == first.organisation_id is not None
    assert await count(session, Organisation) == 2


async def test_english_headers(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area]
) -> None:
    row = volunteer_row("V1", kind="community_staff", communities="科技园社区; 高新社区")
    result = await importer.volunteers(write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_EN, [row]))
    assert result.ok, result.problems
    assert (await volunteer(session, "V1")).kind == VolunteerKind.COMMUNITY_STAFF


async def test_bad_volunteer_rows_are_all_reported_and_nothing_written(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area]
) -> None:
    await make_area(session, code="440305002099", name="高新社区", level=AreaLevel.COMMUNITY,
                    parent=areas["other_street"])  # fmt: skip
    await session.commit()
    rows = [
        volunteer_row("V1", communities="科技园社区"),
        volunteer_row("V2", communities="月球社区"),
        volunteer_row("V3", communities="高新社区"),  # two streets have one
        volunteer_row("V4", communities=""),
        volunteer_row("V5", phone=""),
        volunteer_row("V6", phone="400"),
        volunteer_row("V7", kind="队长"),
        volunteer_row("V8", capacity="很多"),
        volunteer_row("V1"),
        volunteer_row("V10", communities="粤海街道/月球社区"),
    ]
    result = await importer.volunteers(write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_ZH, rows))

    assert [(p.row, p.column) for p in result.problems] == [
        (3, "服务社区"), (4, "服务社区"), (5, "服务社区"), (6, "电话"), (7, "电话"), (8, "类型"), (9, "每月上限"),
        (10, "编号"), (11, "服务社区"),
    ]  # fmt: skip
    reasons = [p.reason for p in result.problems]
    assert "no community named '月球社区'" in reasons[0]
    assert "2 communities are named '高新社区': write it as 街道/高新社区" in reasons[1]
    assert "already used in row 2" in reasons[7]
    assert await count(session, Volunteer) == await count(session, Organisation) == 0
    assert await count(session, AuditEntry) == 0


async def test_reimport_updates_and_replaces_communities_but_keeps_the_chat_link(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area]
) -> None:
    await importer.volunteers(write_csv(tmp_path / "v1.csv", VOLUNTEER_HEADER_ZH, [volunteer_row("V1")]))
    linked = await volunteer(session, "V1")
    linked.telegram_user_id = 424242
    session.add(linked)
    await session.commit()

    row = volunteer_row("V1", name="张志强", phone="13700137999", capacity="8", communities="华侨城社区")
    result = await importer.volunteers(write_csv(tmp_path / "v2.csv", VOLUNTEER_HEADER_ZH, [row]))

    assert (result.inserted, result.updated) == (0, 1)
    session.expunge_all()
    again = await volunteer(session, "V1")
    assert (again.id, again.phone, again.capacity, again.telegram_user_id) == (
        linked.id, "+8613700137999", 8, 424242,
    )  # fmt: skip
    assert await served(session, again.id) == {areas["other_community"].id}
    assert await count(session, Volunteer) == 1


async def test_dry_run_writes_no_volunteer(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area]
) -> None:
    result = await importer.volunteers(
        write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_ZH, [volunteer_row()]), dry_run=True
    )
    assert result.ok and not result.written
    assert await count(session, Volunteer) == await count(session, Organisation) == 0


async def test_volunteers_validate_on_worker_processes_too(
    importer: Importer, session: AsyncSession, tmp_path: Path, areas: dict[str, Area]
) -> None:
    rows = [volunteer_row("V1"), volunteer_row("V2", communities="月球社区")]
    result = await importer.volunteers(write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_ZH, rows), workers=2)
    assert [(p.row, p.column) for p in result.problems] == [(3, "服务社区")]
    ok = await importer.volunteers(write_csv(tmp_path / "ok.csv", VOLUNTEER_HEADER_ZH, rows[:1]), workers=2)
    assert ok.written and await count(session, Volunteer) == 1
