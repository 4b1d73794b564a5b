"""Row validation: cells in, a record or every problem in the row out. Pure: no database, no clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import cache, lru_cache, partial
from typing import TypeVar

from carevisit.care.phones import InvalidPhone, Phone, parse_phone
from carevisit.roster import fields
from carevisit.roster.area_codes import parse_area_code
from carevisit.roster.columns import AREA_FIELDS, Columns
from carevisit.roster.problems import InvalidCell, RowProblem
from carevisit.roster.records import ContactRecord, ElderRecord, VolunteerRecord

T = TypeVar("T")

# Field lengths of the tables (storage.models.people / areas): checked here so PostgreSQL never refuses a row later.
_LENGTHS = {"id": 64, "name": 100, "address": 300, "relation": 50, "area": 100, "organisation": 200, "notes": 4000}


class _Row:
    """Collects the problems of one row while its cells are parsed."""

    def __init__(self, cells: list[str], columns: Columns, *, file: str, row: int) -> None:
        self.texts, cell_problems = columns.read(cells)
        self.columns = columns
        self.file = file
        self.row = row
        self.problems: list[RowProblem] = []
        for name, reason in cell_problems:  # invisible characters in an id or a name, a tick that is not one
            self.problem(name, reason)

    def text(self, name: str) -> str:
        return self.texts.get(name, "")

    def parse(self, name: str, parser: Callable[[str], T], default: T) -> T:
        try:
            return parser(self.texts.get(name, ""))
        except InvalidCell as error:
            self.problem(name, str(error))
            return default

    def required(self, name: str, *, max_length: int) -> str:
        """`fields.required_text` of the cell; a valid cell (nearly all of them) skips the parser's call chain."""
        text = self.texts.get(name, "")
        if text and len(text) <= max_length:
            return text
        return self.parse(name, partial(fields.required_text, max_length=max_length), "")

    def optional(self, name: str, *, max_length: int) -> str:
        """`fields.optional_text` of the cell, the same way."""
        text = self.texts.get(name, "")
        if len(text) <= max_length:
            return text
        return self.parse(name, partial(fields.optional_text, max_length=max_length), "")

    def problem(self, name: str, reason: str) -> None:
        label = self.columns.label.get(name, name)
        self.problems.append(RowProblem(self.file, self.row, label, reason, self.columns.position_of(name)))


@lru_cache(maxsize=65_536)
def _phone(text: str, region: str) -> Phone:
    # Families share numbers; the cache saves re-parsing them (the full phonenumbers parse of a number written
    # with a +, a trunk 0 or separators costs some 50 µs).
    return parse_phone(text, region)


def phone_cell(text: str, region: str, *, required: bool) -> Phone | None:
    if not text.strip():
        if required:
            raise InvalidCell("required, but empty")
        return None
    try:
        return _phone(text.strip(), region)
    except InvalidPhone as error:
        raise InvalidCell(f"{error}: {text.strip()!r}") from None


def validate_elder(
    cells: list[str], columns: Columns, *, file: str, row: int, region: str, today: date
) -> ElderRecord | list[RowProblem]:
    r = _Row(cells, columns, file=file, row=row)
    external_id = r.required("id", max_length=_LENGTHS["id"])
    name = r.required("name", max_length=_LENGTHS["name"])
    gender = r.parse("gender", fields.parse_gender, fields.Gender.UNKNOWN)
    birth_date = r.parse("birth_date", lambda t: fields.parse_birth_date(t, today=today), None)
    phone = r.parse("phone", lambda t: phone_cell(t, region, required=False), None)
    address = r.optional("address", max_length=_LENGTHS["address"])
    areas = tuple(r.required(level, max_length=_LENGTHS["area"]) for level in AREA_FIELDS)
    area_code = r.parse("area_code", lambda t: parse_area_code(t, province=areas[0]), "")
    classes = r.parse("classes", fields.parse_classes, 0)
    risk = r.parse("risk", fields.parse_risk, fields.RiskLevel.LOW)
    consent = r.parse("consent", fields.parse_consent, False)
    notes = r.optional("notes", max_length=_LENGTHS["notes"])
    contacts = _contacts(r, region)
    if r.problems:
        return r.problems
    return ElderRecord(
        external_id=external_id,
        name=name,
        gender=gender,
        birth_date=birth_date,
        phone=phone.e164 if phone else None,
        phone_kind=phone.kind if phone else None,
        address=address,
        areas=areas,  # type: ignore[arg-type]
        classes=classes,
        risk=risk,
        consent=consent,
        notes=notes,
        contacts=contacts,
        area_code=area_code,
    )


def _contacts(r: _Row, region: str) -> tuple[ContactRecord, ...]:
    """Filled contact groups in column order; a group with a name needs a phone and the other way round."""
    contacts = []
    for group in r.columns.contacts:
        name_key, relation_key, phone_key = _contact_keys(group.number)
        if not (r.text(name_key) or r.text(phone_key) or r.text(relation_key)):  # an empty group: fewer contacts
            continue
        name = r.required(name_key, max_length=_LENGTHS["name"])
        relation = r.optional(relation_key, max_length=_LENGTHS["relation"])
        phone = r.parse(phone_key, lambda t: phone_cell(t, region, required=True), None)
        sms = r.parse(f"contact{group.number}_sms", _opt_in, None)
        if name and phone:
            contacts.append(ContactRecord(name, relation, phone.e164, phone.kind, sms))
    return tuple(contacts)


def _opt_in(text: str) -> bool | None:
    """短信通知N: 是/否 sets the contact's family visit reports; empty leaves them as they are."""
    if not text.strip():
        return None
    try:
        return fields.parse_consent(text)
    except InvalidCell:
        raise InvalidCell(f"must be 是/否 or yes/no, not {text!r}") from None


@cache
def _contact_keys(number: int) -> tuple[str, str, str]:
    return f"contact{number}_name", f"contact{number}_relation", f"contact{number}_phone"


class CommunityLookup:
    """Community names → ids, for volunteers' 服务社区. `街道/社区` tells apart communities with the same name."""

    def __init__(self, communities: Mapping[int, tuple[str, str]]) -> None:
        # id → (street name, community name)
        self._by_name: dict[str, list[int]] = {}
        self._by_street: dict[tuple[str, str], int] = {}
        for area_id, (street, name) in communities.items():
            self._by_name.setdefault(name, []).append(area_id)
            self._by_street[(street, name)] = area_id

    def resolve(self, text: str) -> int:
        if "/" in text:
            street, _, name = text.rpartition("/")
            street = street.rpartition("/")[2]
            area_id = self._by_street.get((street.strip(), name.strip()))
            if area_id is None:
                raise InvalidCell(f"no community {name.strip()!r} in street {street.strip()!r}")
            return area_id
        found = self._by_name.get(text, [])
        if not found:
            raise InvalidCell(f"no community named {text!r}; import the elders of that community first")
        if len(found) > 1:
            raise InvalidCell(f"{len(found)} communities are named {text!r}: write it as 街道/{text}")
        return found[0]


def validate_volunteer(
    cells: list[str], columns: Columns, *, file: str, row: int, region: str, communities: CommunityLookup
) -> VolunteerRecord | list[RowProblem]:
    r = _Row(cells, columns, file=file, row=row)
    external_id = r.parse("id", lambda t: fields.required_text(t, max_length=_LENGTHS["id"]), "")
    name = r.parse("name", lambda t: fields.required_text(t, max_length=_LENGTHS["name"]), "")
    phone = r.parse("phone", lambda t: phone_cell(t, region, required=True), None)
    organisation = r.parse("organization", lambda t: fields.optional_text(t, max_length=_LENGTHS["organisation"]), "")
    kind = r.parse("kind", fields.parse_kind, fields.VolunteerKind.VOLUNTEER)
    no_ids: tuple[int, ...] = ()
    community_ids = r.parse("communities", lambda t: _community_ids(t, communities), no_ids)
    capacity = r.parse("capacity", fields.parse_capacity, 0)
    if r.problems or phone is None:
        return r.problems
    return VolunteerRecord(
        external_id=external_id,
        name=name,
        phone=phone.e164,
        phone_kind=phone.kind,
        organisation=organisation or None,
        kind=kind,
        community_ids=community_ids,
        capacity=capacity,
    )


def _community_ids(text: str, communities: CommunityLookup) -> tuple[int, ...]:
    names = fields.split_list(text)
    if not names:
        raise InvalidCell("at least one community is required")
    return tuple(dict.fromkeys(communities.resolve(name) for name in names))
