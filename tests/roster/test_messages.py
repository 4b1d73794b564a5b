"""The words a community worker reads: every reason the parsers give has its Chinese, Excel's column letters."""

from __future__ import annotations

import pytest

from carevisit.roster import messages
from carevisit.roster.problems import RosterFileError, RowProblem


@pytest.mark.parametrize(
    ("position", "letter"),
    [(0, "A"), (7, "H"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")],
)
def test_column_letters_are_excels(position: int, letter: str) -> None:
    assert messages.column_letter(position) == letter


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("required, but empty", "必填，但为空"),
        ("not a valid phone number: '62401246'", '不是有效的电话号码 "62401246"（本地固话请加区号，如 010-62401246）'),
        ("not a valid phone number: '12345'", '不是有效的电话号码 "12345"'),
        ("not a phone number: 'abc'", '不是电话号码 "abc"'),
        ("unknown class '独守' (独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄)",
         '未知的类别 "独守"（可填：独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄）'),
        ("at least one class is required", "至少要填一个类别"),
        ("risk must be 高/中/低 or high/medium/low, not '很高'", '风险等级应填 高/中/低，不是 "很高"'),
        ("consent must be 是/否 or yes/no, not '好'", '是否同意应填 是/否，不是 "好"'),
        ("gender must be 男/女 or male/female, not 'x'", '性别应填 男/女，不是 "x"'),
        ("not a date: '1948.13' (write 1945-03-02)", '不是日期 "1948.13"（请写成 1945-03-02）'),
        ("no such date: '1948-02-30'", '没有这一天："1948-02-30"'),
        ("birth date 2030-01-01 is in the future", "出生日期 2030-01-01 晚于今天"),
        ("too long (120 characters, at most 100)", "太长（120 个字，最多 100 个）"),
        ("id 'E1' already used in row 2", '编号 "E1" 已在第2行用过'),
        ("no community '大冲' in street '粤海街道'", '街道 "粤海街道" 下没有社区 "大冲"'),
        ("no community named '大冲'; import the elders of that community first",
         '没有名为 "大冲" 的社区；请先导入该社区的老人名单'),
        ("2 communities are named '新村': write it as 街道/新村", '有 2 个社区名为 "新村"：请写成 街道/新村'),
        ("capacity must be between 0 and 500, not 900", "每月上限应在 0 到 500 之间，不是 900"),
        ('not a valid phone number: "it\'s"', '不是有效的电话号码 "it\'s"'),
    ],
)  # fmt: skip
def test_every_reason_the_parsers_give_reads_in_chinese(english: str, chinese: str) -> None:
    assert messages.reason("zh_CN", english) == chinese
    assert messages.reason("en", english) == english


def test_a_reason_without_a_translation_is_shown_as_written() -> None:
    assert messages.reason("zh_CN", "something new") == "something new"


def test_a_problem_names_the_row_the_column_letter_and_the_header() -> None:
    problem = RowProblem("名单.xlsx", 43, "联系电话", "not a valid phone number: '62401246'", position=7)
    assert messages.problem("zh_CN", problem) == (
        '第43行 H列（联系电话）：不是有效的电话号码 "62401246"（本地固话请加区号，如 010-62401246）'
    )
    assert messages.problem("en", problem) == "row 43, column H (联系电话): not a valid phone number: '62401246'"
    assert messages.problem(None, problem).startswith("第43行"), "Chinese unless told otherwise"  # type: ignore[arg-type]


def test_a_refused_file_is_told_in_chinese() -> None:
    error = RosterFileError("名单.csv", "missing column(s): 编号/id, 姓名/name")
    assert messages.file_problem("zh_CN", error) == "名单.csv：缺少必需的列：编号/id, 姓名/name"
    assert messages.file_problem("en", error) == "名单.csv: missing column(s): 编号/id, 姓名/name"
