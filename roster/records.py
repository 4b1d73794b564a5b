"""Validated roster rows: plain tuples, cheap to stream and to spool between the two import passes.

They pickle as plain tuples with their enums as text (a pickled enum member is rebuilt through the enum's own
`__call__`, several times slower than a dict look-up): records cross from the validating processes and through the
spool by the million.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from storage.enums import Gender, PhoneKind, RiskLevel, VolunteerKind

_GENDERS = {member.value: member for member in Gender}
_PHONE_KINDS = {member.value: member for member in PhoneKind}
_RISKS = {member.value: member for member in RiskLevel}
_VOLUNTEER_KINDS = {member.value: member for member in VolunteerKind}


class ContactRecord(NamedTuple):
    name: str
    relation: str
    phone: str  # E.164
    phone_kind: PhoneKind

    def __reduce__(self) -> tuple[Any, ...]:
        return _contact, (self.name, self.relation, self.phone, self.phone_kind._value_)


class ElderRecord(NamedTuple):
    external_id: str
    name: str
    gender: Gender
    birth_date: date | None
    phone: str | None
    phone_kind: PhoneKind | None
    address: str
    areas: tuple[str, str, str, str, str]  # province, city, district, street, community names
    classes: int
    risk: RiskLevel
    consent: bool
    notes: str
    contacts: tuple[ContactRecord, ...]

    def __reduce__(self) -> tuple[Any, ...]:
        kind = self.phone_kind._value_ if self.phone_kind is not None else None
        return _elder, (*self[:2], self.gender._value_, *self[3:5], kind, *self[6:9], self.risk._value_, *self[10:])


class VolunteerRecord(NamedTuple):
    external_id: str
    name: str
    phone: str
    phone_kind: PhoneKind
    organisation: str | None
    kind: VolunteerKind
    community_ids: tuple[int, ...]
    capacity: int

    def __reduce__(self) -> tuple[Any, ...]:
        return _volunteer, (*self[:3], self.phone_kind._value_, self.organisation, self.kind._value_, *self[6:])


def _contact(name: str, relation: str, phone: str, kind: str) -> ContactRecord:
    return ContactRecord(name, relation, phone, _PHONE_KINDS[kind])


def _elder(*fields: Any) -> ElderRecord:
    gender, kind, risk = fields[2], fields[5], fields[9]
    return ElderRecord(
        *fields[:2], _GENDERS[gender], *fields[3:5], None if kind is None else _PHONE_KINDS[kind], *fields[6:9],
        _RISKS[risk], *fields[10:],
    )  # fmt: skip


def _volunteer(*fields: Any) -> VolunteerRecord:
    return VolunteerRecord(
        *fields[:3], _PHONE_KINDS[fields[3]], fields[4], _VOLUNTEER_KINDS[fields[5]], *fields[6:]
    )  # fmt: skip
