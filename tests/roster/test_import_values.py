"""What an import stores from values as community workers write them: ID-card numbers, dates to the month, two
phones in a cell, local landlines, notes that say an elder died or is in hospital, 特困/低保."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.roster.fields import id_card_check_digit
from carevisit.scheduler.planning import generate_month
from carevisit.scheduler.visit_policy import load_policy
from carevisit.storage.enums import ElderClass, ElderProgramme, ElderStatus, Gender, PhoneKind
from carevisit.storage.models import Elder, Visit
from tests.roster.conftest import SHANGHAI, Importer
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv, write_roster, write_xlsx
from tests.roster.queries import contacts, count, elder
from tests.scheduler.conftest import SHIPPED_POLICY


def _id_card(first17: str) -> str:
    return first17 + id_card_check_digit(first17)


WANG = _id_card("11010219480312123")  # 1948-03-12, a man
LI = _id_card("44030519420503124")  # 1942-05-03, a woman
HEADER = [*ELDER_HEADER_ZH, "身份证号码", "村民小组"]
MAN = {"gender": "男", "birth_date": "1948-03-12"}  # as WANG's number says
# No 编号: the ID-card number is the key.
HEADER_NO_ID = HEADER[1:]


def row(external_id: str = "E001", id_card: str = "", village_group: str = "", **overrides: str) -> list[str]:
    return [*elder_row(external_id, **overrides), id_card, village_group]


async def _all_text(session: AsyncSession) -> str:
    """Every value of every table, as text: to show a number is stored nowhere."""
    connection = await session.connection()
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if connection.dialect.name == "sqlite"
        else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    )
    values = []
    for table in (await connection.execute(text(query))).scalars().all():
        for record in (await connection.execute(text(f'SELECT * FROM "{table}"'))).all():
            values.extend(str(value) for value in record)
    return "\n".join(values)


@pytest.mark.parametrize("fmt", ["utf-8", "xlsx"])
async def test_an_id_card_number_is_stored_masked_and_hashed_never_in_clear(
    importer: Importer, session: AsyncSession, tmp_path: Path, fmt: str
) -> None:
    rows = [row("E001", id_card=WANG, gender="", birth_date=""), row("E002", id_card=LI.lower(), village_group="三组")]
    result = await importer.elders(write_roster(tmp_path, "ids", HEADER, rows, fmt))
    assert result.ok, result.problems

    wang = await elder(session, "E001")
    assert (wang.gender, wang.birth_date) == (Gender.MALE, date(1948, 3, 12))  # from the number
    assert wang.id_card_masked == f"{WANG[:6]}********{WANG[-4:]}"
    assert wang.id_card_hash is not None and len(wang.id_card_hash) == 64
    li = await elder(session, "E002")
    assert (li.gender, li.birth_date, li.village_group) == (Gender.FEMALE, date(1942, 5, 3), "三组")
    stored = await _all_text(session)
    assert WANG not in stored and LI not in stored and LI.lower() not in stored


async def test_without_a_number_column_the_id_card_is_the_key_and_a_reimport_updates_in_place(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "a.csv", HEADER_NO_ID, [row(id_card=WANG, **MAN)[1:], row(id_card=LI)[1:]])
    done = await importer.elders(first)
    assert done.ok, done.problems
    again = write_csv(tmp_path / "b.csv", HEADER_NO_ID, [row(id_card=WANG, name="王建华", **MAN)[1:]])
    result = await importer.elders(again)

    assert result.ok and (result.inserted, result.updated) == (0, 1), result.problems
    assert await count(session, Elder) == 2
    masked = f"{WANG[:6]}********{WANG[-4:]}"
    (stored,) = (await session.exec(select(Elder).where(Elder.id_card_masked == masked))).all()
    assert stored.name == "王建华"
    assert stored.external_id.startswith(f"{masked}-") and WANG not in stored.external_id


async def test_damaged_and_conflicting_id_cards_are_problems_that_show_only_masked_numbers(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows: list[list[object]] = [
        row("E001", id_card=WANG, gender="男", birth_date="1948-03-13"),  # the day differs
        row("E002", id_card=WANG[:-1] + ("0" if WANG[-1] != "0" else "1")),  # a mistyped digit
        row("E003", id_card=LI, gender="男"),
        row("E004", id_card="1.10102E+17"),  # CSV saved from Excel
        row("E005", id_card=WANG, **MAN),  # the same person as E001 under another 编号
        row("E006", id_card=_id_card("44030519420503146"), birth_date="1942.5"),  # to the month: agrees
    ]
    xlsx_row: list[object] = list(row("E007"))
    xlsx_row[-2] = float(110102194803121000)  # what Excel keeps of a number typed into a General cell
    rows.append(xlsx_row)
    result = await importer.elders(write_xlsx(tmp_path / "damaged.xlsx", HEADER, rows))

    assert not result.ok and await count(session, Elder) == 0
    found = {(p.row, p.column): (p.reason, p.reason_zh) for p in result.problems}
    assert found.keys() == {(2, "出生日期"), (3, "身份证号码"), (4, "性别"), (5, "身份证号码"), (6, "身份证号码"),
                            (8, "身份证号码")}  # fmt: skip
    assert "does not match the birth date in the ID-card number" in found[2, "出生日期"][0]
    assert "校验位不符" in found[3, "身份证号码"][1]
    assert "身份证号码第17位表示女" in found[4, "性别"][1]
    assert "科学计数法" in found[5, "身份证号码"][1]
    assert "already used in row 2" in found[6, "身份证号码"][0]
    assert "只保留数字的前15位" in found[8, "身份证号码"][1]
    shown = "\n".join(f"{p} {p.reason_zh}" for p in result.problems)
    for number in (WANG, LI):
        assert number[6:14] not in shown  # the birth date the mask hides


async def test_one_person_on_an_old_15_digit_card_and_a_new_18_digit_one_is_one_person(
    importer: Importer, tmp_path: Path
) -> None:
    old = "110102480312123"  # WANG's first-generation card: 19 and the check digit dropped
    rows = [row("E001", id_card=WANG, **MAN), row("E002", id_card=old, **MAN)]
    result = await importer.elders(write_csv(tmp_path / "cards.csv", HEADER, rows))
    assert not result.ok
    assert [(p.row, p.column) for p in result.problems] == [(3, "身份证号码")]
    assert "already used in row 2" in result.problems[0].reason and old not in str(result.problems[0])


async def test_dates_phones_and_landlines_as_written(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    rows = [
        row("E001", birth_date="1948.3", phone="13800138000 / 13912345678"),
        row("E002", birth_date="1948年3月", phone="62401246", contact1_phone="13912345678、13700137000"),
        row("E003", birth_date="19480312", phone="0755-26951234"),
        row("E004", birth_date="1948年3月12日"),
    ]
    path = write_csv(tmp_path / "values.csv", HEADER, rows)

    refused = await importer.elders(path)
    assert [(p.row, p.column, p.reason_zh) for p in refused.problems] == [
        (3, "电话", "不是有效的电话号码 “62401246”（本地固话请加区号，如 010-62401246）")
    ]
    result = await importer.elders(path, area_code="010")
    assert result.ok, result.problems

    first = await elder(session, "E001")
    assert first.birth_date == date(1948, 3, 1)
    assert (first.phone, first.phone2, first.phone2_kind) == ("+8613800138000", "+8613912345678", PhoneKind.MOBILE)
    second = await elder(session, "E002")
    assert (second.phone, second.phone_kind, second.phone2) == ("+861062401246", PhoneKind.FIXED_LINE, None)
    # A contact's second number: the same person, paged next.
    assert [(c.position, c.name, c.phone) for c in await contacts(session, second.id)] == [
        (1, "李建国", "+8613912345678"), (2, "李建国", "+8613700137000"),
    ]  # fmt: skip
    assert (await elder(session, "E003")).phone == "+8675526951234"
    assert (await elder(session, "E004")).birth_date == date(1948, 3, 12)


async def test_a_date_serial_typed_as_text_is_named(importer: Importer, tmp_path: Path) -> None:
    result = await importer.elders(write_csv(tmp_path / "serial.csv", HEADER, [row(birth_date="17604")]))
    (problem,) = result.problems
    assert "Excel 的日期序号（即 1948-03-12）" in problem.reason_zh and "Excel date serial" in problem.reason


async def test_notes_set_the_status_with_a_notice_and_programmes_are_recorded(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows = [
        row("E001", notes="2025年3月已去世"),
        row("E002", notes="老伴去世，独居；低保户"),
        row("E003", notes="住院"),
        row("E004", notes="已搬离", classes="分散供养"),
        row("E005", classes="独居、特困", risk="重点", gender="女性"),
    ]
    result = await importer.elders(write_csv(tmp_path / "notes.csv", HEADER, rows))
    assert result.ok, result.problems
    assert [(n.row, n.column) for n in result.row_notices] == [(2, "备注"), (4, "备注"), (5, "备注")]
    assert "不再安排探访" in result.row_notices[0].reason_zh and "出院后请恢复" in result.row_notices[1].reason_zh

    statuses = {n: (await elder(session, f"E00{n}")).status for n in range(1, 6)}
    assert statuses == {1: ElderStatus.DECEASED, 2: ElderStatus.ACTIVE, 3: ElderStatus.PAUSED,
                        4: ElderStatus.MOVED, 5: ElderStatus.ACTIVE}  # fmt: skip
    assert (await elder(session, "E002")).programmes == ElderProgramme.MINIMUM_LIVING
    moved = await elder(session, "E004")
    assert (moved.classes, moved.programmes) == (0, ElderProgramme.EXTREME_POVERTY)
    fifth = await elder(session, "E005")
    assert (fifth.classes, fifth.programmes, fifth.risk) == (ElderClass.ALONE, ElderProgramme.EXTREME_POVERTY, "high")
    assert fifth.gender == Gender.FEMALE

    # A re-import whose notes say nothing keeps the status; one that says 住院 pauses an active elder.
    again = [row("E001", notes=""), row("E002", notes="住院")]
    assert (await importer.elders(write_csv(tmp_path / "again.csv", HEADER, again))).ok
    session.expire_all()
    assert (await elder(session, "E001")).status == ElderStatus.DECEASED
    assert (await elder(session, "E002")).status == ElderStatus.PAUSED


async def test_elders_whose_notes_say_deceased_moved_or_in_hospital_are_never_planned(
    importer: Importer,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    rows = [row("E001", notes="已去世"), row("E002", notes="已搬离"), row("E003", notes="住院"), row("E004")]
    assert (await importer.elders(write_csv(tmp_path / "notes.csv", HEADER, rows))).ok
    policy = load_policy(SHIPPED_POLICY)

    summary = await generate_month(session_factory, clock=clock, zone=SHANGHAI, policy=policy, month="2026-03")

    planned = (await session.exec(select(Visit.elder_id).distinct())).all()
    assert planned == [(await elder(session, "E004")).id]
    assert (summary.left, summary.paused) == (2, 1)
