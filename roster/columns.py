"""Roster headers, Chinese or English, mapped to the fields they hold.

A header we do not know is an error, never silently skipped: a misspelt 电话 column must not drop every phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from carevisit.roster.problems import RosterFileError

ELDER_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "id"),
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birth_date"),
    "phone": ("电话", "phone"),
    "address": ("地址", "address"),
    "province": ("省", "province"),
    "city": ("市", "city"),
    "district": ("区县", "district"),
    "street": ("街道", "street"),
    "community": ("社区", "community"),
    "classes": ("类别", "classes"),
    "risk": ("风险等级", "risk"),
    "consent": ("是否同意", "consent"),
    "notes": ("备注", "notes"),
    "id_card": ("身份证号码", "id_card", "身份证号", "公民身份号码"),
    "village_group": ("村民小组", "village_group"),
}
ELDER_REQUIRED = ("id", "name", "province", "city", "district", "street", "community", "classes", "risk", "consent")
AREA_FIELDS = ("province", "city", "district", "street", "community")

VOLUNTEER_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "id"),
    "name": ("姓名", "name"),
    "phone": ("电话", "phone"),
    "organization": ("所属组织", "organization", "organisation"),
    "kind": ("类型", "kind"),
    "communities": ("服务社区", "communities"),
    "capacity": ("每月上限", "capacity"),
}
VOLUNTEER_REQUIRED = ("id", "name", "phone", "communities")

# Repeated emergency-contact groups: 紧急联系人1/关系1/联系电话1 or contact1_name/contact1_relation/contact1_phone.
_CONTACT_PATTERNS = (
    (re.compile(r"^紧急联系人(\d{1,2})$"), "name"),
    (re.compile(r"^关系(\d{1,2})$"), "relation"),
    (re.compile(r"^联系电话(\d{1,2})$"), "phone"),
    (re.compile(r"^contact(\d{1,2})_(name|relation|phone)$"), ""),
)
CONTACT_LABELS = {
    "name": "紧急联系人{n}/contact{n}_name",
    "relation": "关系{n}/contact{n}_relation",
    "phone": "联系电话{n}/contact{n}_phone",
}


@dataclass(frozen=True)
class ContactColumns:
    number: int
    name: int
    phone: int
    relation: int | None


@dataclass(frozen=True)
class Columns:
    """Where each field sits in a row, and the header text to name in error messages."""

    index: dict[str, int]
    label: dict[str, str]
    contacts: list[ContactColumns] = field(default_factory=list)

    def texts(self, cells: list[str]) -> dict[str, str]:
        """Every known field's cell, stripped, at once (a short row: the missing cells are empty)."""
        count = len(cells)
        return {name: cells[position].strip() if position < count else "" for name, position in self.index.items()}

    def cell(self, cells: list[str], name: str) -> str:
        position = self.index.get(name)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()


def _normalise(header: str) -> str:
    return header.replace("\ufeff", "").strip().lower().replace(" ", "_")


def _lookup(fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_normalise(alias): name for name, aliases in fields.items() for alias in aliases}


_ELDER_LOOKUP = _lookup(ELDER_FIELDS)
_VOLUNTEER_LOOKUP = _lookup(VOLUNTEER_FIELDS)


def elder_columns(header: list[str], file: str) -> Columns:
    index, label, unknown, groups = _map(header, _ELDER_LOOKUP, file=file, contacts=True)
    _refuse(file, unknown, ELDER_FIELDS, contacts=True)
    # Without a 编号 column the ID-card number is the elder's key.
    _require(file, index, ELDER_REQUIRED[1:] if "id_card" in index else ELDER_REQUIRED, ELDER_FIELDS)
    contacts = []
    for number in sorted(groups):
        group = groups[number]
        missing = [CONTACT_LABELS[part].format(n=number) for part in ("name", "phone") if part not in group]
        if missing:
            raise RosterFileError(file, f"emergency contact {number} needs the column(s) {', '.join(missing)}")
        contacts.append(ContactColumns(number, group["name"], group["phone"], group.get("relation")))
        for part, position in group.items():
            index[f"contact{number}_{part}"] = position
            label[f"contact{number}_{part}"] = header[position].strip()
    return Columns(index=index, label=label, contacts=contacts)


def volunteer_columns(header: list[str], file: str) -> Columns:
    index, label, unknown, _ = _map(header, _VOLUNTEER_LOOKUP, file=file, contacts=False)
    _refuse(file, unknown, VOLUNTEER_FIELDS, contacts=False)
    _require(file, index, VOLUNTEER_REQUIRED, VOLUNTEER_FIELDS)
    return Columns(index=index, label=label)


def _map(
    header: list[str], lookup: dict[str, str], *, file: str, contacts: bool
) -> tuple[dict[str, int], dict[str, str], list[str], dict[int, dict[str, int]]]:
    index: dict[str, int] = {}
    label: dict[str, str] = {}
    unknown: list[str] = []
    groups: dict[int, dict[str, int]] = {}
    seen: set[str] = set()
    for position, raw in enumerate(header):
        text = raw.replace("\ufeff", "").strip()
        key = _normalise(raw)
        if not key:
            unknown.append(f"(empty header in column {position + 1})")
            continue
        name = lookup.get(key)
        part = _contact_part(key) if contacts and name is None else None
        if name is None and part is None:
            unknown.append(text)
            continue
        slot = name or f"contact{part[0]}_{part[1]}"  # type: ignore[index]
        if slot in seen:
            raise RosterFileError(file, f"the column {text!r} appears twice")
        seen.add(slot)
        if name is not None:
            index[name] = position
            label[name] = text
        else:
            number, which = part  # type: ignore[misc]
            groups.setdefault(number, {})[which] = position
    return index, label, unknown, groups


def _contact_part(key: str) -> tuple[int, str] | None:
    for pattern, part in _CONTACT_PATTERNS:
        match = pattern.match(key)
        if match:
            return int(match.group(1)), part or match.group(2)
    return None


def _refuse(file: str, unknown: list[str], fields: dict[str, tuple[str, ...]], *, contacts: bool) -> None:
    if not unknown:
        return
    known = ", ".join("/".join(aliases[:2]) for aliases in fields.values())
    if contacts:
        known += ", 紧急联系人N/contactN_name, 关系N/contactN_relation, 联系电话N/contactN_phone"
    raise RosterFileError(file, f"unknown column(s) {', '.join(repr(u) for u in unknown)}; the columns are: {known}")


def _require(file: str, index: dict[str, int], required: tuple[str, ...], fields: dict[str, tuple[str, ...]]) -> None:
    missing = ["/".join(fields[name][:2]) for name in required if name not in index]
    if missing:
        raise RosterFileError(file, f"missing column(s): {', '.join(missing)}")
