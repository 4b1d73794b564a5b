"""A ready roster workbook to fill in: our columns with their Chinese headers, the header row frozen, drop-downs
where the answer is one of a few, and id, ID-card and phone columns stored as text so Excel cannot turn
`110102194803121234` into `1.10102E+17` or drop a phone's leading 0.

The columns come from `roster.columns`, so the template always re-imports as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carevisit.roster.columns import ELDER_FIELDS, ELDER_REQUIRED, VOLUNTEER_FIELDS, VOLUNTEER_REQUIRED
from carevisit.roster.messages import column_letter

KINDS = ("elders", "volunteers")
CONTACTS = 2  # contact groups in the template; a file may have more (紧急联系人3 …)
ROWS = 1_000  # rows prepared (text format, drop-downs)

# Fields kept as text: ids and numbers Excel would reformat.
_TEXT_FIELDS = {"id", "id_card", "phone", "area_code"}
# Drop-downs: the answers the importer takes. 类别 lists single classes, but a cell may hold several (独居、高龄),
# so its validation only informs.
_CHOICES = {
    "classes": ("独居", "空巢", "留守", "失能", "重残", "计划生育特殊家庭", "高龄"),
    "risk": ("高", "中", "低"),
    "consent": ("是", "否"),
    "gender": ("男", "女"),
    "sms": ("是", "否"),
    "kind": ("志愿者", "社工", "社区工作人员", "机构人员"),
}
_STRICT = {"risk", "consent", "gender", "sms", "kind"}
_PROMPTS = {
    "classes": "可多选，用顿号分隔，如：独居、高龄",
    "birth_date": "如 1945-03-02",
    "communities": "可填多个，用顿号分隔；重名时写 街道/社区",
    "capacity": "每月最多探访次数，默认 20",
    "sms": "是：探访后给该联系人发短信告知",
}


@dataclass(frozen=True)
class TemplateColumn:
    header: str
    field: str  # the field (for contacts: name, relation, phone, sms)
    required: bool


def template_columns(kind: str) -> list[TemplateColumn]:
    if kind == "volunteers":
        return [
            TemplateColumn(aliases[0], name, name in VOLUNTEER_REQUIRED) for name, aliases in VOLUNTEER_FIELDS.items()
        ]
    fields = [(name, aliases) for name, aliases in ELDER_FIELDS.items() if name != "notes"]
    columns = [TemplateColumn(aliases[0], name, name in ELDER_REQUIRED) for name, aliases in fields]
    for n in range(1, CONTACTS + 1):
        columns += [
            TemplateColumn(f"紧急联系人{n}", "name", False),
            TemplateColumn(f"关系{n}", "relation", False),
            TemplateColumn(f"联系电话{n}", "phone", False),
            TemplateColumn(f"短信通知{n}", "sms", False),
        ]
    if "notes" in ELDER_FIELDS:
        columns.append(TemplateColumn(ELDER_FIELDS["notes"][0], "notes", False))
    return columns


def write_template(kind: str, path: Path) -> Path:
    """Write the template for `kind` ("elders" or "volunteers") to `path`; raises OSError when it cannot."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    if kind not in KINDS:
        raise ValueError(f"no template for {kind!r}")
    columns = template_columns(kind)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "老人名单" if kind == "elders" else "志愿者名单"
    sheet.append([column.header for column in columns])
    sheet.freeze_panes = "A2"
    required = PatternFill("solid", start_color="FFFFF2CC")
    for position, column in enumerate(columns):
        letter = column_letter(position)
        cell = sheet.cell(row=1, column=position + 1)
        cell.font = Font(bold=True)
        if column.required:
            cell.fill = required
        sheet.column_dimensions[letter].width = max(10, 2 * len(column.header) + 4)
        cells = f"{letter}2:{letter}{ROWS + 1}"
        if column.field in _TEXT_FIELDS:
            sheet.column_dimensions[letter].number_format = "@"
            for row in range(2, ROWS + 2):
                sheet.cell(row=row, column=position + 1).number_format = "@"
        choices = _CHOICES.get(column.field)
        prompt = _PROMPTS.get(column.field)
        if choices:
            strict = column.field in _STRICT
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(choices) + '"',
                allow_blank=True,
                showErrorMessage=strict,
                errorStyle="stop" if strict else "information",
                error="请从下拉列表中选择" if strict else None,
                showInputMessage=bool(prompt),
                prompt=prompt,
            )
            validation.add(cells)
            sheet.add_data_validation(validation)
        elif prompt:
            validation = DataValidation(showInputMessage=True, prompt=prompt, allow_blank=True)
            validation.add(cells)
            sheet.add_data_validation(validation)
    workbook.save(path)
    return path
