"""An importer limited to their own area (a dashboard admin): rows elsewhere are problems, nothing is written."""

from __future__ import annotations

from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.roster import messages
from carevisit.storage.models import Area, Elder, Volunteer
from tests.factories import make_area_tree, make_elder, make_volunteer
from tests.roster.conftest import Importer
from tests.roster.files import ELDER_HEADER_ZH, VOLUNTEER_HEADER_ZH, elder_row, volunteer_row, write_csv
from tests.roster.queries import count
from tests.roster.test_import_values import HEADER_NO_ID, MAN, WANG, row


async def tree(session: AsyncSession) -> dict[str, Area]:
    areas = await make_area_tree(session)
    await session.commit()
    return areas


async def test_rows_outside_the_importers_street_are_refused_and_nothing_is_written(
    importer: Importer, session: AsyncSession, clock: FakeClock, tmp_path: Path
) -> None:
    areas = await tree(session)
    await make_elder(session, clock, community=areas["other_community"], external_id="E-SHAHE")
    await session.commit()
    rows = [
        elder_row("E001"),  # 粤海街道 / 科技园社区: inside
        elder_row("E002", street="沙河街道", community="华侨城社区"),  # the street next door
        elder_row("E003", district="福田区", street="园岭街道", community="百花社区"),  # another district
        elder_row("E-SHAHE"),  # an elder of 沙河街道 moved in by a re-import: no
    ]
    result = await importer.elders(write_csv(tmp_path / "名单.csv", ELDER_HEADER_ZH, rows), within=areas["street"])
    assert not result.ok and not result.written
    said = [messages.problem("zh_CN", problem) for problem in result.problems]
    assert said == [
        "第3行 J列（街道）：不在你管辖的 广东省/深圳市/南山区/粤海街道 范围内",
        "第4行 I列（区县）：不在你管辖的 广东省/深圳市/南山区/粤海街道 范围内",
        "第5行 A列（编号）：编号“E-SHAHE”属于其他地区",
    ]
    assert await count(session, Elder) == 1 and await count(session, Area) == 8


async def test_the_same_file_imports_within_the_district(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    areas = await tree(session)
    rows = [elder_row("E001"), elder_row("E002", street="沙河街道", community="华侨城社区")]
    result = await importer.elders(write_csv(tmp_path / "名单.csv", ELDER_HEADER_ZH, rows), within=areas["district"])
    assert result.ok and result.written and result.inserted == 2


async def test_volunteers_serve_only_the_importers_communities(
    importer: Importer, session: AsyncSession, clock: FakeClock, tmp_path: Path
) -> None:
    areas = await tree(session)
    await make_volunteer(session, clock, communities=[areas["other_community"]], external_id="V-SHAHE")
    await session.commit()
    rows = [
        volunteer_row("V001"),
        volunteer_row("V002", communities="华侨城社区"),
        volunteer_row("V-SHAHE", communities="科技园社区"),
    ]
    path = write_csv(tmp_path / "志愿者.csv", VOLUNTEER_HEADER_ZH, rows)
    result = await importer.volunteers(path, within=areas["street"])
    said = [messages.problem("zh_CN", problem) for problem in result.problems]
    assert said == [
        "第3行 F列（服务社区）：社区“华侨城社区”不在你的管辖范围内",
        "第4行 A列（编号）：编号“V-SHAHE”属于其他地区",
    ]
    assert not result.written and await count(session, Volunteer) == 1


async def test_a_roster_keyed_by_id_card_cannot_take_over_an_elder_of_another_area(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    areas = await tree(session)
    shahe = {"street": "沙河街道", "community": "华侨城社区"}
    first = write_csv(tmp_path / "a.csv", HEADER_NO_ID, [row(id_card=WANG, **MAN, **shahe)[1:]])
    assert (await importer.elders(first)).written  # by the district, say
    moved = write_csv(tmp_path / "b.csv", HEADER_NO_ID, [row(id_card=WANG, **MAN)[1:]])  # now 粤海街道 / 科技园社区
    result = await importer.elders(moved, within=areas["street"])
    masked = f"{WANG[:6]}********{WANG[-4:]}"
    assert [messages.problem("zh_CN", problem) for problem in result.problems] == [
        f"第2行 U列（身份证号码）：编号“{masked}”属于其他地区"
    ]
    assert not result.written and WANG not in str(result.problems)
