"""Importing elders from real files: every format, every rule, all-or-nothing, re-import in place."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.roster.problems import RosterFileError
from carevisit.storage.enums import ElderClass, ElderStatus, Gender, PhoneKind, RiskLevel
from carevisit.storage.models import Area, AuditEntry, Elder, EmergencyContact
from tests.factories import make_area_tree
from tests.roster.conftest import Importer
from tests.roster.files import (
    AREAS,
    ELDER_HEADER_EN,
    ELDER_HEADER_ZH,
    FORMATS,
    elder_row,
    write_csv,
    write_roster,
    write_xlsx,
)
from tests.roster.queries import area_chain, contacts, count, elder


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_roster_imports_the_same_in_every_format(
    importer: Importer, session: AsyncSession, tmp_path: Path, fmt: str
) -> None:
    rows = [
        elder_row("E001"),
        elder_row("E002", name="陈桂兰", gender="男", birth_date="1938/1/9", phone="", classes="空巢；失能",
                  risk="低", consent="否", contact2_name="陈志强", contact2_relation="女婿",
                  contact2_phone="010-12345678", notes="子女在外地"),
    ]  # fmt: skip
    result = await importer.elders(write_roster(tmp_path, "elders", ELDER_HEADER_ZH, rows, fmt))

    assert result.ok and result.written, result.problems
    assert (result.rows, result.inserted, result.updated, result.areas_created) == (2, 2, 0, 5)
    first = await elder(session, "E001")
    assert (first.name, first.gender, first.birth_date) == ("王秀英", Gender.FEMALE, date(1942, 5, 3))
    assert (first.phone, first.phone_kind) == ("+8613800138000", PhoneKind.MOBILE)
    assert first.address == "科苑路15号3栋201"
    assert first.classes == ElderClass.ALONE | ElderClass.ADVANCED_AGE
    assert (first.risk, first.consent, first.status) == (RiskLevel.HIGH, True, ElderStatus.ACTIVE)
    assert await area_chain(session, first.community_id) == AREAS
    assert [(c.name, c.relation, c.phone, c.phone_kind) for c in await contacts(session, first.id)] == [
        ("李建国", "儿子", "+8613912345678", PhoneKind.MOBILE)
    ]
    second = await elder(session, "E002")
    assert (second.gender, second.birth_date, second.phone, second.consent) == (
        Gender.MALE, date(1938, 1, 9), None, False,
    )  # fmt: skip
    assert second.classes == ElderClass.EMPTY_NEST | ElderClass.DISABLED and second.risk == RiskLevel.LOW
    assert second.notes == "子女在外地" and second.community_id == first.community_id
    # A fixed line is kept: it takes calls, not SMS.
    assert [(c.position, c.name, c.phone_kind) for c in await contacts(session, second.id)] == [
        (1, "李建国", PhoneKind.MOBILE), (2, "陈志强", PhoneKind.FIXED_LINE),
    ]  # fmt: skip


async def test_english_headers_work_too(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    row = elder_row("E9", gender="female", classes="alone, advanced_age", risk="medium", consent="yes")
    result = await importer.elders(write_csv(tmp_path / "en.csv", ELDER_HEADER_EN, [row]))
    assert result.ok, result.problems
    stored = await elder(session, "E9")
    assert (stored.gender, stored.risk) == (Gender.FEMALE, RiskLevel.MEDIUM)


async def test_excel_typed_cells_read_as_written(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    """Excel stores ids and phones as numbers and dates as dates; they must come out as the coordinator typed them."""
    row: list[object] = list(elder_row("x"))
    row[0], row[3], row[4], row[16] = 1001, datetime(1942, 5, 3), 13800138000, 13912345678.0  # noqa: DTZ001
    result = await importer.elders(write_xlsx(tmp_path / "typed.xlsx", ELDER_HEADER_ZH, [row]))
    assert result.ok, result.problems
    stored = await elder(session, "1001")
    assert (stored.birth_date, stored.phone) == (date(1942, 5, 3), "+8613800138000")
    assert [c.phone for c in await contacts(session, stored.id)] == ["+8613912345678"]


BAD_ROWS = [
    (elder_row("E001"), None),
    (elder_row(""), ("编号", "required")),
    (elder_row("E003", name=""), ("姓名", "required")),
    (elder_row("E004", gender="x"), ("性别", "男/女")),
    (elder_row("E005", birth_date="1942-13-01"), ("出生日期", "no such date")),
    (elder_row("E006", birth_date="2030-01-01"), ("出生日期", "in the future")),
    (elder_row("E007", phone="12345"), ("电话", "not a valid phone number")),
    (elder_row("E008", classes="富裕"), ("类别", "unknown class")),
    (elder_row("E009", classes=""), ("类别", "at least one class")),
    (elder_row("E010", risk="很高"), ("风险等级", "高/中/低")),
    (elder_row("E011", consent=""), ("是否同意", "是/否")),
    (elder_row("E012", community=""), ("社区", "required")),
    (elder_row("E013", contact1_phone=""), ("联系电话1", "required")),
    (elder_row("E014", contact2_phone="13912345678"), ("紧急联系人2", "required")),
    (elder_row("E015", contact1_phone="call me"), ("联系电话1", "not a phone number")),
    (elder_row("E001"), ("编号", "id 'E001' already used in row 2")),
    (elder_row("E017", name="王" * 101), ("姓名", "too long")),
]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_bad_row_is_reported_and_nothing_is_written(
    importer: Importer, session: AsyncSession, tmp_path: Path, fmt: str
) -> None:
    path = write_roster(tmp_path, "bad", ELDER_HEADER_ZH, [row for row, _ in BAD_ROWS], fmt)
    result = await importer.elders(path)

    assert not result.ok and not result.written
    found = [(p.file, p.row, p.column, p.reason) for p in result.problems]
    expected = [(row_number, *problem) for row_number, (_, problem) in enumerate(BAD_ROWS, start=2) if problem]
    assert len(found) == len(expected) == result.problem_count, found
    for (file, row, column, reason), (want_row, want_column, want_reason) in zip(found, expected, strict=True):
        assert (file, row, column) == (path.name, want_row, want_column)
        assert want_reason in reason
    assert await count(session, Elder) == await count(session, Area) == await count(session, AuditEntry) == 0


async def test_validating_on_worker_processes_finds_the_same_and_imports_the_same(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    bad = write_csv(tmp_path / "bad.csv", ELDER_HEADER_ZH, [row for row, _ in BAD_ROWS])
    alone, shared = await importer.elders(bad), await importer.elders(bad, workers=2)
    assert shared.problems == alone.problems and shared.rows == alone.rows
    good = write_csv(tmp_path / "good.csv", ELDER_HEADER_ZH, [elder_row(f"E{n:04d}") for n in range(2500)])
    result = await importer.elders(good, workers=2)
    assert (result.inserted, await count(session, Elder)) == (2500, 2500)


async def test_one_bad_row_among_good_ones_writes_nothing(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows = [elder_row(f"E{n}") for n in range(5)] + [elder_row("E9", phone="12345")]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows))
    assert [(p.row, p.column) for p in result.problems] == [(7, "电话")]
    assert await count(session, Elder) == await count(session, EmergencyContact) == await count(session, Area) == 0


async def test_reimporting_updates_in_place_and_replaces_contacts(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    await importer.elders(write_csv(tmp_path / "v1.csv", ELDER_HEADER_ZH, [elder_row("E1"), elder_row("E2")]))
    first = await elder(session, "E1")
    first.status = ElderStatus.PAUSED  # in hospital: learned after the survey
    session.add(first)
    await session.commit()

    rows = [
        elder_row("E1", name="王秀英（改）", phone="13800138001", risk="中", contact1_name="李志强",
                  contact1_phone="13912340000", contact2_name="王芳", contact2_relation="女儿",
                  contact2_phone="13912340001"),
        elder_row("E2"),
        elder_row("E3"),
    ]  # fmt: skip
    result = await importer.elders(write_csv(tmp_path / "v2.csv", ELDER_HEADER_ZH, rows))

    assert (result.inserted, result.updated) == (1, 2)
    assert await count(session, Elder) == 3
    session.expunge_all()
    again = await elder(session, "E1")
    assert again.id == first.id
    assert (again.name, again.phone, again.risk) == ("王秀英（改）", "+8613800138001", RiskLevel.MEDIUM)
    assert again.status == ElderStatus.PAUSED
    assert [(c.position, c.name, c.phone) for c in await contacts(session, again.id)] == [
        (1, "李志强", "+8613912340000"), (2, "王芳", "+8613912340001"),
    ]  # fmt: skip
    assert await count(session, EmergencyContact) == 4


async def test_reimport_keeps_what_was_learned_about_a_contact_with_the_same_phone(
    importer: Importer, session: AsyncSession, tmp_path: Path, clock: FakeClock
) -> None:
    await importer.elders(write_csv(tmp_path / "v1.csv", ELDER_HEADER_ZH, [elder_row("E1")]))
    first = await elder(session, "E1")
    [son] = await contacts(session, first.id)
    son.is_carer, son.sms_opt_in, son.language, son.opted_out_at = True, True, "en", clock.now()
    session.add(son)
    await session.commit()

    row = elder_row("E1", contact1_name="王芳", contact1_relation="女儿", contact1_phone="13912340001",
                    contact2_name="李建国", contact2_relation="儿子", contact2_phone="13912345678")  # fmt: skip
    await importer.elders(write_csv(tmp_path / "v2.csv", ELDER_HEADER_ZH, [row]))

    session.expunge_all()
    daughter, son_again = await contacts(session, first.id)
    assert (daughter.name, daughter.is_carer, daughter.sms_opt_in, daughter.opted_out_at) == (
        "王芳",
        False,
        False,
        None,
    )
    assert (son_again.position, son_again.is_carer, son_again.sms_opt_in, son_again.language) == (2, True, True, "en")
    assert son_again.opted_out_at == clock.now()


async def test_dry_run_checks_everything_and_writes_nothing(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    good = await importer.elders(write_csv(tmp_path / "ok.csv", ELDER_HEADER_ZH, [elder_row("E1")]), dry_run=True)
    assert good.ok and not good.written and good.rows == 1
    bad = await importer.elders(
        write_csv(tmp_path / "bad.csv", ELDER_HEADER_ZH, [elder_row("E1", risk="?")]), dry_run=True
    )
    assert [p.column for p in bad.problems] == ["风险等级"]
    assert await count(session, Elder) == await count(session, Area) == await count(session, AuditEntry) == 0


async def test_existing_areas_are_found_and_missing_ones_created_with_codes_of_our_own(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    tree = await make_area_tree(session)
    await session.commit()
    rows = [
        elder_row("E1"),  # 科技园社区 exists
        elder_row("E2", community="大冲社区"),  # a new community in an existing street
        elder_row("E3", province="北京市", city="北京市", district="海淀区", street="中关村街道", community="科育社区"),
    ]  # fmt: skip
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows))

    assert result.areas_created == 6
    assert (await elder(session, "E1")).community_id == tree["community"].id
    new = await session.get(Area, (await elder(session, "E2")).community_id)
    assert new is not None
    # Made-up codes are visibly ours, never digits that pass for a national code (440305001003 might be another's).
    assert (new.code, new.parent_id, new.path) == ("X0001", tree["street"].id, "/44/4403/440305/440305001/X0001/")
    beijing = await session.get(Area, (await elder(session, "E3")).community_id)
    assert beijing is not None and beijing.path == "/11/X0002/X0003/X0004/X0005/", "a known province: its code"


async def test_shenzhen_is_not_given_guangzhous_code(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, [elder_row("E1")]))
    assert result.written
    city = (await session.exec(select(Area).where(Area.name == "深圳市"))).one()
    assert city.code != "4401" and city.code.startswith("X")


async def test_a_national_code_column_gives_every_level_its_code(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    header = [*ELDER_HEADER_ZH, "行政区划代码"]
    rows = [[*elder_row("E1"), "440305001001"], [*elder_row("E2", community="大冲社区"), "440305001"]]
    result = await importer.elders(write_csv(tmp_path / "e.csv", header, rows))

    assert result.written, result.problems
    first = await session.get(Area, (await elder(session, "E1")).community_id)
    assert first is not None and first.path == "/44/4403/440305/440305001/440305001001/"
    second = await session.get(Area, (await elder(session, "E2")).community_id)
    assert second is not None and second.path == "/44/4403/440305/440305001/X0001/", "only the street's code given"


async def test_a_national_code_of_the_wrong_shape_or_province_is_a_problem(importer: Importer, tmp_path: Path) -> None:
    header = [*ELDER_HEADER_ZH, "行政区划代码"]
    rows = [[*elder_row("E1"), "44030500100"], [*elder_row("E2"), "110105001001"], [*elder_row("E3"), "4403"]]
    result = await importer.elders(write_csv(tmp_path / "e.csv", header, rows))
    assert [(p.row, p.column) for p in result.problems] == [(2, "行政区划代码"), (3, "行政区划代码")]
    assert "2, 4, 6, 9 or 12 digits" in result.problems[0].reason
    assert result.problems[1].reason == "area code '110105001001' is not in 广东省"


async def test_a_national_code_that_disagrees_with_a_known_area_refuses_the_file(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    await make_area_tree(session)  # 南山区 is 440305
    await session.commit()
    header = [*ELDER_HEADER_ZH, "行政区划代码"]
    with pytest.raises(RosterFileError, match="南山区 has the code 440305, not 440306"):
        await importer.elders(write_csv(tmp_path / "e.csv", header, [[*elder_row("E1"), "440306001001"]]))
    assert await count(session, Elder) == 0


async def test_each_import_leaves_an_audit_entry_without_personal_data(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, [elder_row("E1"), elder_row("E2")]))
    entry = (await session.exec(select(AuditEntry))).one()
    assert (entry.actor, entry.action, entry.entity) == ("test", "roster.import", "elder")
    assert entry.details is not None and entry.details["rows"] == 2 and entry.details["inserted"] == 2
    text = str(entry.details)
    for personal in ("王秀英", "13800138000", "科苑路", "李建国"):
        assert personal not in text


async def test_blank_rows_are_skipped_and_row_numbers_stay_true(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows = [elder_row("E1"), [""] * len(ELDER_HEADER_ZH), elder_row("E3", phone="1")]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows))
    assert (result.rows, [p.row for p in result.problems]) == (2, [4])


async def test_a_duplicate_id_is_found_even_when_its_first_row_is_bad(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows = [elder_row("E1", phone="1"), elder_row("E2"), elder_row("E1", risk="?")]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows))
    assert [(p.row, p.column) for p in result.problems] == [(2, "电话"), (4, "风险等级"), (4, "编号")]
    assert "already used in row 2" in result.problems[-1].reason


async def test_empty_columns_after_the_last_header_are_ignored(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "e.csv", [*ELDER_HEADER_ZH, "", ""], [[*elder_row("E1"), "", ""]])
    result = await importer.elders(path)
    assert result.ok and result.inserted == 1, result.problems


async def test_problems_kept_are_capped_but_all_counted(importer: Importer, tmp_path: Path) -> None:
    rows = [elder_row(f"E{n}", phone="1") for n in range(10)]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows), max_problems=4)
    assert (len(result.problems), result.problem_count) == (4, 10)


async def test_a_gb18030_file_whose_start_is_plain_ascii_is_still_read(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    """English headers and pinyin names for the first few thousand rows say nothing about the encoding."""
    ascii_rows = [
        elder_row(f"E{n:05d}", name=f"Wang Xiuying {n}", address="Keyuan Road 15", province="Guangdong",
                  city="Shenzhen", district="Nanshan", street="Yuehai", community="Keji", classes="alone",
                  risk="high", consent="yes", contact1_name="Li Jianguo", contact1_relation="son", gender="f")
        for n in range(4000)
    ]  # fmt: skip
    path = write_csv(tmp_path / "late.csv", ELDER_HEADER_EN, [*ascii_rows, elder_row("Z1")], encoding="gb18030")
    assert path.stat().st_size > 300_000
    result = await importer.elders(path, dry_run=True)
    assert result.ok and result.rows == 4001, result.problems[:3]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ([*ELDER_HEADER_ZH[:4], "电话号吗", *ELDER_HEADER_ZH[5:]], "unknown column(s) E列（电话号吗）"),
        ([h for h in ELDER_HEADER_ZH if h != "社区"], "missing column(s): 社区/community"),
        ([*ELDER_HEADER_ZH, "姓名"], "the column '姓名' appears twice"),
        ([h for h in ELDER_HEADER_ZH if h != "联系电话2"], "emergency contact 2 needs the column(s) 联系电话2"),
    ],
)
async def test_a_wrong_header_refuses_the_whole_file(
    importer: Importer, session: AsyncSession, tmp_path: Path, header: list[str], reason: str
) -> None:
    path = write_csv(tmp_path / "header.csv", header, [elder_row("E1")[: len(header)]])
    with pytest.raises(RosterFileError) as refused:
        await importer.elders(path)
    assert refused.value.file == "header.csv" and reason in refused.value.reason
    assert await count(session, Elder) == 0


async def test_unreadable_files_are_refused_clearly(importer: Importer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    old_excel = tmp_path / "old.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0 binary")
    mixed = tmp_path / "mixed.csv"  # UTF-8 for a few thousand rows, then a GB18030 row pasted in
    utf8 = "\n".join(",".join(row) for row in [ELDER_HEADER_ZH, *(elder_row(f"E{n}") for n in range(3000))])
    mixed.write_bytes(utf8.encode() + b"\n" + ",".join(elder_row("E1")).encode("gb18030"))
    neither = tmp_path / "neither.csv"  # UTF-8 header, GB18030 row: no single encoding reads it
    neither.write_bytes(",".join(ELDER_HEADER_ZH).encode() + b"\n" + ",".join(elder_row("E1")).encode("gb18030"))
    for path, reason in [
        (empty, "empty"),
        (broken, "not a readable XLSX"),
        (old_excel, "save the sheet as .xlsx or .csv"),
        (mixed, "row 3002 is not valid UTF-8"),
        (neither, "neither UTF-8 nor GB18030"),
    ]:
        with pytest.raises(RosterFileError, match=reason):
            await importer.elders(path)
