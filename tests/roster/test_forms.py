"""Registration forms as communities keep them: title rows, two-row headers, tick columns, every sheet, footers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.roster.columns import column_letter
from carevisit.roster.layout import SkippedRow, places
from carevisit.roster.problems import RosterFileError
from carevisit.storage.enums import ElderClass, RiskLevel
from carevisit.storage.models import Elder
from tests.roster.conftest import Importer
from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv, write_xlsx
from tests.roster.forms import STREET_TITLE, FormSheet, form_row, id_card, write_form
from tests.roster.queries import area_chain, contacts, count, elder

BEIJING = ["北京市", "北京市", "西城区", "新街口街道"]


async def test_a_registration_form_imports_as_it_is(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    """Merged title naming the community, two-row header, tick columns, 紧急联系人 group, 合计 and 填表人 rows."""
    rows = [
        form_row(1, "XS-001"),
        form_row(2, "XS-002", name="陈桂兰", ticks=("空巢", "失能"), mark="✓",
                 contact=("陈志强", "女婿", "010-12345678")),
        form_row(3, "XS-003", name="赵淑珍", ticks=("独居",), mark="是", risk="低"),
    ]  # fmt: skip
    path = write_form(tmp_path / "登记表.xlsx", [FormSheet("Sheet1", rows)])
    result = await importer.elders(path)

    assert result.ok and result.written, result.problems
    assert (result.rows, result.inserted) == (3, 3)
    first = await elder(session, "XS-001")
    assert first.name == "王秀英" and first.classes == ElderClass.ALONE | ElderClass.ADVANCED_AGE
    assert await area_chain(session, first.community_id) == [*BEIJING, "西四北社区"]
    assert [(c.name, c.relation, c.phone) for c in await contacts(session, first.id)] == [
        ("李建国", "儿子", "+8613912345678")
    ]
    second = await elder(session, "XS-002")
    assert second.classes == ElderClass.EMPTY_NEST | ElderClass.DISABLED
    assert [c.phone for c in await contacts(session, second.id)] == ["+861012345678"]
    third = await elder(session, "XS-003")
    assert (third.classes, third.risk) == (ElderClass.ALONE, RiskLevel.LOW)
    # Title rows 1–2, header rows 3–4: the elders are rows 5–7; the 合计 row, a blank row and the footer follow.
    assert result.skipped_rows == [SkippedRow(None, 8, "合计"), SkippedRow(None, 10, "填表人")]
    assert result.blank_rows == 1
    assert "A列（序号）: not used; ignored" in result.notices
    assert not any("身份证号码" in notice for notice in result.notices)  # stored, masked (see test_import_values)
    understood = dict(result.understood[0][1])
    assert understood["I列（类别/独居）"] == "classes: 独居 when ticked"
    assert understood["P列（紧急联系人/关系）"] == "contact1_relation"


async def test_a_hidden_sheet_is_read_and_said_to_be_hidden(importer: Importer, tmp_path: Path) -> None:
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1")], title=STREET_TITLE),
        FormSheet("前公用社区", [form_row(1, "B-1")], title=STREET_TITLE),
    ]
    path = write_form(tmp_path / "新街口.xlsx", sheets)
    workbook = openpyxl.load_workbook(path)
    workbook["前公用社区"].sheet_state = "hidden"  # hidden in Excel: easy to forget, never left out
    workbook.save(path)
    result = await importer.elders(path)
    assert result.ok and result.inserted == 2, result.problems
    assert "sheet '前公用社区': hidden in Excel; read like the others" in result.notices


async def test_every_sheet_is_imported_with_its_name_as_the_community(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1"), form_row(2, "A-2")], title=STREET_TITLE),
        FormSheet("前公用社区", [form_row(1, "B-1")], title=STREET_TITLE),
        FormSheet("福绥境社区", [form_row(n, f"C-{n}") for n in range(1, 4)], title=STREET_TITLE),
    ]
    result = await importer.elders(write_form(tmp_path / "新街口.xlsx", sheets, summary=True))

    assert result.ok and result.inserted == 6, result.problems
    assert result.sheets == [("西四北社区", 2), ("前公用社区", 1), ("福绥境社区", 3)]
    assert result.skipped_sheets == [("汇总", "a summary or instructions sheet")]
    assert await count(session, Elder) == 6
    assert await area_chain(session, (await elder(session, "B-1")).community_id) == [*BEIJING, "前公用社区"]
    assert await area_chain(session, (await elder(session, "C-3")).community_id) == [*BEIJING, "福绥境社区"]
    assert {row.sheet for row in result.skipped_rows} == {"西四北社区", "前公用社区", "福绥境社区"}


async def test_problems_name_the_sheet_and_its_row(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1"), form_row(2, "A-2")], title=STREET_TITLE),
        FormSheet("前公用社区", [form_row(1, "B-1"), form_row(2, "B-2", phone="12345"), form_row(3, "A-1")],
                  title=STREET_TITLE),
    ]  # fmt: skip
    result = await importer.elders(write_form(tmp_path / "新街口.xlsx", sheets))

    assert not result.ok and await count(session, Elder) == 0
    found = [(p.sheet, p.row, p.column) for p in result.problems]
    assert found == [("前公用社区", 6, "联系电话"), ("前公用社区", 7, "编号")]
    assert "sheet '前公用社区', row 6, column 联系电话" in str(result.problems[0])
    assert "already used in sheet '西四北社区', row 5" in result.problems[1].reason


async def test_header_problems_of_every_sheet_come_together_with_column_letters(
    importer: Importer, tmp_path: Path
) -> None:
    odd = ["序号", "编号", "姓名", "籍贯", "出生年月", "家庭住址", ("类别", ("独居", "空巢")), "风险等级", "是否同意"]
    no_risk = ["序号", "编号", "姓名", "出生年月", ("类别", ("独居", "空巢")), "是否同意"]
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1")[:11]], header=odd, footer=False, title=STREET_TITLE),  # type: ignore[arg-type]
        FormSheet("前公用社区", [form_row(1, "B-1")[:7]], header=no_risk, footer=False, title=STREET_TITLE),  # type: ignore[arg-type]
    ]
    with pytest.raises(RosterFileError) as refused:
        await importer.elders(write_form(tmp_path / "新街口.xlsx", sheets))
    reason = refused.value.reason
    assert "sheet '西四北社区': unknown column(s) D列（籍贯）" in reason
    assert "sheet '前公用社区': missing column(s): 风险等级/risk" in reason


async def test_a_sheet_without_a_header_refuses_the_file(importer: Importer, tmp_path: Path) -> None:
    path = write_form(tmp_path / "新街口.xlsx", [FormSheet("西四北社区", [form_row(1, "A-1")])])
    workbook = openpyxl.load_workbook(path)
    notes = workbook.create_sheet("花名册")
    notes.append(["王秀英", "女", "1942"])
    notes.append(["陈桂兰", "女", "1938"])
    workbook.save(path)
    with pytest.raises(RosterFileError, match="sheet '花名册': no header row in the first 2 rows"):
        await importer.elders(path)


async def test_a_title_and_a_sheet_name_that_disagree_are_refused(importer: Importer, tmp_path: Path) -> None:
    path = write_form(tmp_path / "x.xlsx", [FormSheet("前公用社区", [form_row(1, "A-1")]), FormSheet("汇总", [])])
    with pytest.raises(RosterFileError, match="the title names '西四北社区' but the sheet is named '前公用社区'"):
        await importer.elders(path)


async def test_a_two_row_header_without_merged_cells_reads_the_same(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    """CSV has no merged cells, and some authors leave them unmerged: a group's text stands over its first column."""
    path = write_form(tmp_path / "unmerged.xlsx", [FormSheet("Sheet1", [form_row(1, "A-1")], merge=False)])
    result = await importer.elders(path)
    assert result.ok, result.problems
    stored = await elder(session, "A-1")
    assert stored.classes == ElderClass.ALONE | ElderClass.ADVANCED_AGE
    assert [c.relation for c in await contacts(session, stored.id)] == ["儿子"]

    upper = ["编号", "姓名", "类别", "", "风险等级", "是否同意", "紧急联系人", "", "", "社区"]
    lower = ["", "", "独居", "空巢", "", "", "姓名", "关系", "电话", ""]
    row = ["C-1", "王秀英", "", "1", "中", "是", "李建国", "儿子", "13912345678", "西四北社区"]
    csv = write_csv(tmp_path / "form.csv", ["新街口街道特殊困难老年人登记表"], [upper, lower, row], "gb18030")
    with pytest.raises(RosterFileError, match="missing column\\(s\\): 省/province, 市/city, 区县/district"):
        await importer.elders(csv)  # the title names only the street
    csv = write_csv(tmp_path / "form.csv", [STREET_TITLE], [upper, lower, row], "gb18030")
    result = await importer.elders(csv)
    assert result.ok, result.problems
    assert (await elder(session, "C-1")).classes == ElderClass.EMPTY_NEST


async def test_tick_columns_of_classes_the_policy_does_not_plan_by_are_set_aside_not_refused(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    header = ["编号", "姓名", "独居", "孤寡", "是否半失能", "风险等级", "是否同意", "社区"]
    row = ["G-1", "王秀英", "√", "√", "√", "中", "是", "西四北社区"]
    result = await importer.elders(write_csv(tmp_path / "form.csv", [STREET_TITLE], [header, row]))
    assert result.ok, result.problems
    assert (await elder(session, "G-1")).classes == ElderClass.ALONE
    assert "D列（孤寡）: not a class visits are planned by; ignored" in result.notices
    assert "E列（是否半失能）: not a class visits are planned by; ignored" in result.notices


@pytest.mark.parametrize("mark", ["√", "✓", "✔", "●", "是", "1", "Y", "y"])
async def test_every_tick_mark_ticks(importer: Importer, session: AsyncSession, tmp_path: Path, mark: str) -> None:
    path = write_form(tmp_path / "t.xlsx", [FormSheet("Sheet1", [form_row(1, "A-1", ticks=("失能",), mark=mark)])])
    assert (await importer.elders(path)).ok
    assert (await elder(session, "A-1")).classes == ElderClass.DISABLED


async def test_tick_columns_and_a_class_column_add_up(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    header = [*ELDER_HEADER_ZH, "独居", "是否高龄"]
    rows = [
        [*elder_row("E1", classes="空巢"), "√", ""],
        [*elder_row("E2", classes=""), "", "是"],
        [*elder_row("E3", classes=""), "", ""],
        [*elder_row("E4", classes="空巢"), "x", "否"],
    ]
    result = await importer.elders(write_xlsx(tmp_path / "t.xlsx", header, rows))
    assert [(p.row, p.column, p.reason.split(":")[0]) for p in result.problems] == [
        (4, "类别", "at least one class is required"),
        (5, "独居", "not a tick"),
    ]
    rows = rows[:2]
    assert (await importer.elders(write_xlsx(tmp_path / "t.xlsx", header, rows))).ok
    assert (await elder(session, "E1")).classes == ElderClass.EMPTY_NEST | ElderClass.ALONE
    assert (await elder(session, "E2")).classes == ElderClass.ADVANCED_AGE


async def test_rows_after_a_totals_row_are_skipped_and_listed(importer: Importer, tmp_path: Path) -> None:
    rows = [
        elder_row("E1"),
        ["小计", *[""] * 20],
        elder_row("E2"),
        ["合  计", "", "2人"],
        ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "注：类别请打√"],
        elder_row("E3"),
        ["单位（盖章）：", "", "", "日期："],
    ]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows), dry_run=True)
    assert result.ok and result.rows == 2, result.problems
    assert [(row.row, row.reason) for row in result.skipped_rows] == [
        (3, "小计"), (5, "合计"), (6, "注"), (7, "after the 合计 row"), (8, "盖章"),
    ]  # fmt: skip
    assert result.skipped_count == 5


async def test_vertically_merged_cells_fill_every_row_they_cover(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    """A 社区 cell merged down over its elders' rows, as forms grouped by community have it."""
    path = write_xlsx(tmp_path / "m.xlsx", ELDER_HEADER_ZH, [elder_row(f"E{n}", community="") for n in range(3)])
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    column = column_letter(ELDER_HEADER_ZH.index("社区"))
    sheet[f"{column}2"] = "大冲社区"
    sheet.merge_cells(f"{column}2:{column}4")
    workbook.save(path)
    result = await importer.elders(path)
    assert result.ok, result.problems
    for n in range(3):
        assert (await area_chain(session, (await elder(session, f"E{n}")).community_id))[-1] == "大冲社区"


async def test_single_row_headers_as_forms_write_them(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    """身份证号码 as the key without 编号, 监护人/子女 contacts, synonyms, columns set aside with a notice."""
    header = ["序号", "姓名", "公民身份号码", "出生日期", "年龄", "现住址", "省", "市", "区县", "乡镇", "社区(村)",
              "村民小组", "手机", "人员类别", "风险等级", "是否同意", "监护人姓名", "与老人关系", "监护人电话",
              "子女姓名", "子女电话", "户主", "与户主关系"]  # fmt: skip
    card = id_card("女", "1942-05-03")
    row = ["1", "王秀英", card, "1942-05-03", "82", "石庄村3组", "江苏省", "无锡市", "江阴市", "璜土镇",
           "石庄村", "3组", "13800138000", "独居 高龄", "高", "是", "李建国", "儿子", "13912345678", "李芳",
           "13912340001", "李建国", "之子"]  # fmt: skip
    result = await importer.elders(write_csv(tmp_path / "名册.csv", header, [row]))
    assert result.ok, result.problems
    found = await session.exec(select(Elder).where(Elder.id_card_masked == f"{card[:6]}********{card[-4:]}"))
    stored = found.one()
    assert stored.external_id.startswith(f"{card[:6]}********{card[-4:]}-")  # the number itself is not the key
    assert stored.phone == "+8613800138000" and stored.address == "石庄村3组"
    assert [(c.position, c.name, c.relation) for c in await contacts(session, stored.id)] == [
        (1, "李建国", "儿子"), (2, "李芳", ""),
    ]  # fmt: skip
    assert "E列（年龄）: ignored, the birth date says it" in result.notices
    assert "V列（户主）: read, not stored" in result.notices and "A列（序号）: not used; ignored" in result.notices


async def test_invisible_characters_are_refused_in_names_and_stripped_elsewhere(
    importer: Importer, session: AsyncSession, tmp_path: Path
) -> None:
    rows = [
        elder_row("E1", name="王\u202e英秀"),
        elder_row("E2", contact1_name="李\u200b建国"),
        elder_row("E3\x00"),
        elder_row("E4", address="科苑路\x0015号\u2066", notes="子女\n在外地"),
    ]
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows))
    assert [(p.row, p.column) for p in result.problems] == [(2, "姓名"), (3, "紧急联系人1"), (4, "编号")]
    assert "U+202E" in result.problems[0].reason
    result = await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, rows[3:]))
    assert result.ok, result.problems
    stored = await elder(session, "E4")
    assert (stored.address, stored.notes) == ("科苑路15号", "子女 在外地")


async def test_a_zip_bomb_is_refused_before_it_is_unpacked(importer: Importer, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "bomb.xlsx", ELDER_HEADER_ZH, [elder_row("E1")])
    with (
        zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("xl/media/padding.bin", "w") as part,
    ):
        for _ in range(300):
            part.write(b"\0" * (1024 * 1024))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(RosterFileError, match="unpacks to 300 MB"):
        await importer.elders(path)


async def test_broken_xml_is_a_clear_error(importer: Importer, tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", ELDER_HEADER_ZH, [elder_row("E1")])
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row><c>")
            target.writestr(item, data)
    with pytest.raises(RosterFileError, match=r"broken.xlsx: .*not a readable XLSX file \(broken XML"):
        await importer.elders(broken)


@pytest.mark.parametrize(
    ("title", "found"),
    [
        ("北京市西城区新街口街道西四北社区特殊困难老年人探访关爱服务对象登记表",
         {"province": "北京市", "city": "北京市", "district": "西城区", "street": "新街口街道",
          "community": "西四北社区"}),
        ("新街口街道XX社区特殊困难老年人探访关爱服务对象登记表", {"street": "新街口街道", "community": "XX社区"}),
        ("2024年度广东省深圳市南山区粤海街道科技园社区摸底排查表",
         {"province": "广东省", "city": "深圳市", "district": "南山区", "street": "粤海街道",
          "community": "科技园社区"}),
        ("江苏省无锡市江阴市璜土镇石庄村老年人名册",
         {"province": "江苏省", "city": "无锡市", "district": "江阴市", "street": "璜土镇", "community": "石庄村"}),
        ("特殊困难老年人探访关爱服务对象登记表", {}),
        ("社区A", {}),
    ],
)  # fmt: skip
def test_places_a_title_names(title: str, found: dict[str, str]) -> None:
    assert places(title) == found
