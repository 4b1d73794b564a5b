"""Real roster files written the way Excel and survey teams write them."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import openpyxl

ELDER_HEADER_ZH = [
    "编号", "姓名", "性别", "出生日期", "电话", "地址", "省", "市", "区县", "街道", "社区", "类别", "风险等级",
    "是否同意", "紧急联系人1", "关系1", "联系电话1", "紧急联系人2", "关系2", "联系电话2", "备注",
]  # fmt: skip
ELDER_HEADER_EN = [
    "id", "name", "gender", "birth_date", "phone", "address", "province", "city", "district", "street", "community",
    "classes", "risk", "consent", "contact1_name", "contact1_relation", "contact1_phone", "contact2_name",
    "contact2_relation", "contact2_phone", "notes",
]  # fmt: skip
VOLUNTEER_HEADER_ZH = ["编号", "姓名", "电话", "所属组织", "类型", "服务社区", "每月上限"]
VOLUNTEER_HEADER_EN = ["id", "name", "phone", "organization", "kind", "communities", "capacity"]

AREAS = ["广东省", "深圳市", "南山区", "粤海街道", "科技园社区"]


def elder_row(external_id: str = "E001", **overrides: str) -> list[str]:
    """A valid row in ELDER_HEADER_* order; override cells by English header name."""
    row = dict(
        zip(
            ELDER_HEADER_EN,
            [
                external_id, "王秀英", "女", "1942-05-03", "13800138000", "科苑路15号3栋201", *AREAS,
                "独居、高龄", "高", "是", "李建国", "儿子", "13912345678", "", "", "", "",
            ],
            strict=True,
        )
    )  # fmt: skip
    unknown = set(overrides) - set(row)
    assert not unknown, f"no such column {unknown}"
    row.update(overrides)
    return list(row.values())


def volunteer_row(external_id: str = "V001", **overrides: str) -> list[str]:
    row = dict(
        zip(
            VOLUNTEER_HEADER_EN,
            [external_id, "张志强", "13700137000", "南山区阳光社工服务中心", "社工", "科技园社区", "15"],
            strict=True,
        )
    )
    unknown = set(overrides) - set(row)
    assert not unknown, f"no such column {unknown}"
    row.update(overrides)
    return list(row.values())


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: Sequence[object], rows: Sequence[Sequence[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


FORMATS = ["utf-8", "utf-8-sig", "gb18030", "xlsx"]


def write_roster(directory: Path, name: str, header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str) -> Path:
    """The same table as CSV in one of the encodings Excel writes, or as XLSX."""
    if fmt == "xlsx":
        return write_xlsx(directory / f"{name}.xlsx", header, rows)
    return write_csv(directory / f"{name}.csv", header, rows, encoding=fmt)
