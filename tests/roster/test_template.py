"""`carevisit template elders|volunteers`: a workbook that Excel cannot damage and that imports as it is."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner

from carevisit.cli import app
from carevisit.roster.template import template_columns, write_template
from tests.roster.conftest import Importer
from tests.roster.queries import contacts, elder

runner = CliRunner()


def _validations(sheet: object) -> dict[str, tuple[str | None, str | None, bool]]:
    """header → (list formula, error style, shows an error) of the drop-down on its column."""
    headers = {cell.column_letter: cell.value for cell in sheet[1]}  # type: ignore[index]
    found = {}
    for validation in sheet.data_validations.dataValidation:  # type: ignore[attr-defined]
        for cell_range in validation.sqref.ranges:
            letter = cell_range.coord.split(":")[0].rstrip("0123456789")
            found[headers[letter]] = (validation.formula1, validation.errorStyle, bool(validation.showErrorMessage))
    return found


def test_the_elders_template_has_chinese_headers_drop_downs_and_text_columns(tmp_path: Path) -> None:
    path = write_template("elders", tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["编号", "姓名", "性别"] and "紧急联系人1" in headers and "短信通知2" in headers
    assert headers[-1] == "备注" and sheet.freeze_panes == "A2"
    validations = _validations(sheet)
    assert validations["风险等级"] == ('"高,中,低"', "stop", True)
    assert validations["是否同意"] == ('"是,否"', "stop", True)
    assert validations["短信通知1"] == ('"是,否"', "stop", True)
    # Several classes go in one cell (独居、高龄): the list helps, it does not refuse.
    assert validations["类别"][0] == '"独居,空巢,留守,失能,重残,计划生育特殊家庭,高龄"'
    assert validations["类别"][1:] == ("information", False)
    for header in ("编号", "电话", "联系电话1", "联系电话2"):
        letter = openpyxl.utils.get_column_letter(headers.index(header) + 1)
        assert sheet[f"{letter}2"].number_format == "@" and sheet[f"{letter}1001"].number_format == "@", header
    assert sheet["B2"].number_format == "General"


async def test_a_filled_in_template_imports(importer: Importer, session: AsyncSession, tmp_path: Path) -> None:
    path = write_template("elders", tmp_path / "老人名单模板.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    headers = [cell.value for cell in sheet[1]]
    values = {
        "编号": "0012", "姓名": "王秀英", "性别": "女", "出生日期": "1942-05-03", "电话": "01062401246",
        "地址": "科苑路15号", "省": "广东省", "市": "深圳市", "区县": "南山区", "街道": "粤海街道",
        "社区": "科技园社区", "类别": "独居、高龄", "风险等级": "高", "是否同意": "是", "紧急联系人1": "李建国",
        "关系1": "儿子", "联系电话1": "13912345678", "短信通知1": "是",
    }  # fmt: skip
    for header, value in values.items():
        sheet.cell(row=2, column=headers.index(header) + 1, value=value)
    workbook.save(path)

    result = await importer.elders(path)
    assert result.ok and result.written, result.problems
    stored = await elder(session, "0012")
    assert stored.phone == "+861062401246", "the leading 0 kept as text"
    [son] = await contacts(session, stored.id)
    assert son.sms_opt_in


async def test_the_volunteers_template_imports_after_the_elders(importer: Importer, tmp_path: Path) -> None:
    from tests.roster.files import ELDER_HEADER_ZH, elder_row, write_csv

    await importer.elders(write_csv(tmp_path / "e.csv", ELDER_HEADER_ZH, [elder_row()]))
    path = write_template("volunteers", tmp_path / "v.xlsx")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    assert [c.header for c in template_columns("volunteers")] == [cell.value for cell in sheet[1]]
    assert _validations(sheet)["类型"][0] == '"志愿者,社工,社区工作人员,机构人员"'
    sheet.append(["V1", "张志强", "13700137000", "阳光社工", "社工", "科技园社区", "15"])
    workbook.save(path)
    result = await importer.volunteers(path)
    assert result.ok and result.written, result.problems


def test_the_template_command_writes_and_will_not_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    made = runner.invoke(app, ["template", "elders"])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "老人名单模板.xlsx").is_file() and "carevisit import elders" in made.output
    again = runner.invoke(app, ["template", "elders"])
    assert again.exit_code == 1 and "--force" in again.output
    assert runner.invoke(app, ["template", "elders", "--force"]).exit_code == 0
    other = runner.invoke(app, ["template", "volunteers", "--output", str(tmp_path / "v.xlsx")])
    assert other.exit_code == 0 and (tmp_path / "v.xlsx").is_file()
    assert runner.invoke(app, ["template", "staff"]).exit_code == 2
