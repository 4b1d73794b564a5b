"""`carevisit import …` as a coordinator runs it: exit codes, messages, and the database after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from carevisit.cli import app
from carevisit.storage.db import make_engine
from carevisit.storage.models import Area, AuditEntry, Elder, Volunteer
from tests.roster.files import ELDER_HEADER_ZH, VOLUNTEER_HEADER_ZH, elder_row, volunteer_row, write_csv, write_xlsx
from tests.roster.forms import STREET_TITLE, FormSheet, form_row, id_card, write_form

runner = CliRunner()


@pytest.fixture
def env(db_url: str, engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The command's environment, on the test's (migrated, empty) database."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {"CAREVISIT_DATABASE_URL": db_url}


def rows_in(db_url: str, model: type) -> int:
    import asyncio

    from sqlalchemy import func, select

    async def count() -> int:
        engine = make_engine(db_url)
        async with engine.connect() as connection:
            value = (await connection.execute(select(func.count()).select_from(model))).scalar_one()  # type: ignore[call-overload]
        await engine.dispose()
        return int(value)

    return asyncio.run(count())


def test_import_has_help_for_both_rosters() -> None:
    result = runner.invoke(app, ["import", "--help"])
    assert result.exit_code == 0
    assert "elders" in result.output and "volunteers" in result.output
    assert "--dry-run" in runner.invoke(app, ["import", "elders", "--help"]).output


def test_importing_elders_then_volunteers(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    elders = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1"), elder_row("E2")], "gb18030")
    result = runner.invoke(app, ["import", "elders", str(elders)], env=env)
    assert result.exit_code == 0, result.output
    assert "已从 elders.csv 导入 2 条老人记录：新增 2，更新 0，新建地区 5 个。" in result.output

    again = runner.invoke(app, ["import", "elders", str(elders)], env=env | {"CAREVISIT_LANGUAGE": "en"})
    assert "Imported 2 elders from elders.csv: 0 new, 2 updated." in again.output
    assert rows_in(db_url, Elder) == 2

    volunteers = write_xlsx(tmp_path / "volunteers.xlsx", VOLUNTEER_HEADER_ZH, [volunteer_row("V1")])
    result = runner.invoke(app, ["import", "volunteers", str(volunteers)], env=env)
    assert result.exit_code == 0, result.output
    assert "已从 volunteers.xlsx 导入 1 条志愿者记录：新增 1，更新 0，新建组织 1 个。" in result.output


def test_bad_rows_exit_1_name_each_problem_and_write_nothing(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    rows = [elder_row("E1"), elder_row("E2", phone="12345"), elder_row("E3", risk="很高", classes="[bold]")]
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, rows)
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)

    assert result.exit_code == 1
    assert "第3行 E列（电话）：不是有效的电话号码 “12345”" in result.output
    assert "第4行 L列（类别）：未知的类别“[bold]”" in result.output  # printed as written
    assert "第4行 M列（风险等级）：风险等级应填 高/中/低（或 高风险/中风险/低风险、重点/一般），不是“很高”" in (
        result.output
    )
    assert "elders.csv 有 3 个问题（共读取 3 行）：没有写入任何数据。" in result.output
    assert "Traceback" not in result.output
    assert rows_in(db_url, Elder) == rows_in(db_url, Area) == 0


def test_problems_are_told_in_english_when_the_language_is_en(env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1", contact1_phone="62401246")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env | {"CAREVISIT_LANGUAGE": "en"})
    assert result.exit_code == 1
    assert "row 2, column Q (联系电话1): not a valid phone number: '62401246'" in result.output
    assert "1 problem(s) in elders.csv (1 rows read): nothing was written." in result.output


def test_a_local_landline_without_its_area_code_is_told_how_to_write_it(env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1", contact1_phone="62401246")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert "第2行 Q列（联系电话1）：不是有效的电话号码 “62401246”（本地固话请加区号，如 010-62401246）" in result.output
    assert "问题.xlsx" not in result.output, "one problem fits on the screen"


def test_more_than_a_screenful_of_problems_are_also_written_to_a_workbook_beside_the_file(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    import openpyxl

    rows = [elder_row(f"E{n}", phone="12345" if n % 2 else "13800138000", risk="很高" if n % 3 == 0 else "高")
            for n in range(1, 31)]  # fmt: skip
    path = write_xlsx(tmp_path / "名单.xlsx", ELDER_HEADER_ZH, rows)
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)

    assert result.exit_code == 1
    target = tmp_path / "名单.问题.xlsx"
    assert f"全部问题已写入 {target}" in result.output.replace("\n", "")
    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None and sheet.freeze_panes == "A2"
    lines = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert lines[0] == [*ELDER_HEADER_ZH, "问题", "原表行号"]
    bad = [n for n in range(1, 31) if n % 2 or n % 3 == 0]
    assert [line[0] for line in lines[1:]] == [f"E{n}" for n in bad], "only the bad rows, in file order"
    first = lines[1]
    assert first[len(ELDER_HEADER_ZH)] == "E列（电话）：不是有效的电话号码 “12345”" and first[-1] == 2
    both = next(line for line in lines if line[0] == "E3")
    assert both[len(ELDER_HEADER_ZH)].count("\n") == 1, "one line per problem"
    assert sheet["E2"].fill.start_color.rgb == "FFF4CCCC" and sheet["E2"].number_format == "@"
    assert rows_in(db_url, Elder) == 0


def test_dry_run_reports_and_writes_nothing(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path), "--dry-run"], env=env | {"CAREVISIT_LANGUAGE": "en"})
    assert result.exit_code == 0, result.output
    assert "elders.csv: all 1 elders rows are valid (dry run: nothing written)." in result.output
    assert "Importing it would add 1 elders and update 0." in result.output
    assert rows_in(db_url, Elder) == rows_in(db_url, Area) == rows_in(db_url, AuditEntry) == 0


def test_a_dry_run_shows_how_each_column_was_understood_and_what_would_be_written(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    first = write_csv(tmp_path / "v1.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    assert runner.invoke(app, ["import", "elders", str(first)], env=env).exit_code == 0
    before = rows_in(db_url, AuditEntry)
    path = write_csv(tmp_path / "v2.csv", ELDER_HEADER_ZH, [elder_row("E1", name="改名"), elder_row("E2")])
    result = runner.invoke(app, ["import", "elders", str(path), "--dry-run"], env=env)

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert (
        "A 编号 编号" in lines and "Q 联系电话1 紧急联系人1 电话" in lines and "R 紧急联系人2 紧急联系人2 姓名" in lines
    )
    assert "v2.csv：全部 2 行老人记录有效（试运行：没有写入任何数据）。" in result.output
    assert "正式导入将新增 1 条、更新 1 条老人记录。" in result.output
    assert rows_in(db_url, Elder) == 1 and rows_in(db_url, AuditEntry) == before, "nothing written"


def test_a_dry_run_of_a_bad_file_shows_the_columns_and_the_problems(env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, [elder_row("E1", risk="?")])
    result = runner.invoke(app, ["import", "elders", str(path), "--dry-run"], env=env)
    assert result.exit_code == 1
    assert "M 风险等级 风险等级" in " ".join(result.output.replace("│", " ").split())
    assert "第2行 M列（风险等级）" in result.output


def test_an_unknown_header_exits_1_and_says_which(env: dict[str, str], tmp_path: Path, db_url: str) -> None:
    header = ["手机号吗" if h == "电话" else h for h in ELDER_HEADER_ZH]
    path = write_csv(tmp_path / "elders.csv", header, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 1
    assert "elders.csv：无法识别的列：E列（手机号吗）" in result.output and "没有写入任何数据。" in result.output
    assert "Traceback" not in result.output
    assert rows_in(db_url, Elder) == 0


def test_a_missing_file_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "volunteers", str(tmp_path / "nope.csv")], env=env)
    assert result.exit_code == 1 and "nope.csv：文件不存在" in result.output


def test_an_unmigrated_database_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"CAREVISIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"}
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 3 and "carevisit db upgrade" in result.output


def test_a_bad_default_region_is_a_configuration_error(env: dict[str, str], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    result = runner.invoke(app, ["import", "elders", str(path)], env=env | {"CAREVISIT_DEFAULT_REGION": "ZZ"})
    assert result.exit_code == 2 and "CAREVISIT_DEFAULT_REGION" in result.output


def test_volunteers_are_imported_with_the_configured_phone_region(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    elders = write_csv(tmp_path / "elders.csv", ELDER_HEADER_ZH, [elder_row("E1")])
    assert runner.invoke(app, ["import", "elders", str(elders)], env=env).exit_code == 0
    # A UK mobile written nationally only parses with the region set to GB.
    volunteers = write_csv(tmp_path / "v.csv", VOLUNTEER_HEADER_ZH, [volunteer_row("V1", phone="07400 123456")])
    refused = runner.invoke(app, ["import", "volunteers", str(volunteers)], env=env)
    assert refused.exit_code == 1 and "C列（电话）" in refused.output
    accepted = runner.invoke(
        app, ["import", "volunteers", str(volunteers)], env=env | {"CAREVISIT_DEFAULT_REGION": "GB"}
    )
    assert accepted.exit_code == 0, accepted.output
    assert rows_in(db_url, Volunteer) == 1


def test_a_workbook_of_community_sheets_says_what_it_read_and_skipped(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    sheets = [
        FormSheet("西四北社区", [form_row(1, "A-1"), form_row(2, "A-2")], title=STREET_TITLE),
        FormSheet("前公用社区", [form_row(1, "B-1")], title=STREET_TITLE),
    ]
    path = write_form(tmp_path / "新街口.xlsx", sheets, summary=True)
    result = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "工作表“西四北社区”：2 行" in result.output and "工作表“前公用社区”：1 行" in result.output
    assert "跳过工作表“汇总”（汇总或说明表）" in result.output
    assert "跳过 4 行（不是老人记录）：西四北社区 第7行（合计），西四北社区 第9行（填表人）" in result.output
    assert "提示：工作表“西四北社区”：A列（序号）：不使用，已忽略" in result.output
    assert "已从 新街口.xlsx 导入 3 条老人记录" in result.output
    assert rows_in(db_url, Elder) == 3

    english = runner.invoke(app, ["import", "elders", str(path), "--dry-run"], env=env | {"CAREVISIT_LANGUAGE": "en"})
    assert "sheet '西四北社区': 2 rows" in english.output
    assert "skipped sheet '汇总' (a summary or instructions sheet)" in english.output
    assert "skipped 4 rows that are not elders: 西四北社区 row 7 (合计), 西四北社区 row 9 (填表人)" in english.output


def test_a_roster_keyed_by_id_card_numbers_is_driven_by_them_and_never_shows_them(
    env: dict[str, str], tmp_path: Path, db_url: str
) -> None:
    card = id_card("女", "1942-05-03")
    header = ["姓名", "公民身份号码", "省", "市", "区县", "乡镇", "社区(村)", "人员类别", "风险等级", "是否同意",
              "监护人姓名", "监护人电话"]  # fmt: skip
    row = [
        "王秀英",
        card,
        "江苏省",
        "无锡市",
        "江阴市",
        "璜土镇",
        "石庄村",
        "独居",
        "高",
        "是",
        "李建国",
        "13912345678",
    ]
    path = write_csv(tmp_path / "名册.csv", header, [row])
    imported = runner.invoke(app, ["import", "elders", str(path)], env=env)
    assert imported.exit_code == 0, imported.output

    drill = runner.invoke(app, ["drill", card], env=env)  # the number the worker has, not an id they never saw
    assert drill.exit_code == 0, drill.output
    listed = runner.invoke(app, ["incidents", "list"], env=env | {"COLUMNS": "200"})
    assert f"{card[:6]}********{card[-4:]}" in listed.output
    other = card[:-1] + ("0" if card[-1] != "0" else "1")  # a typo: not a valid number, so not looked up by hash
    missing = runner.invoke(app, ["drill", other], env=env)
    assert missing.exit_code == 1
    for output in (imported.output, drill.output, listed.output):
        assert card not in output
