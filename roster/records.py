"""Validated roster rows: plain tuples, cheap to stream and to spool between the two import passes.

`packed()` is a record as the spool holds it: a plain tuple in the record's field order with every enum as its text
(equal to the member: they are StrEnums, and the columns bind both alike). Plain tuples of text unpickle at C speed;
a NamedTuple or an enum member is rebuilt through Python code, several microseconds a record, by the million.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from carevisit.storage.enums import Gender, PhoneKind, RiskLevel, VolunteerKind


class ContactRecord(NamedTuple):
    name: str
    relation: str
    phone: str  # E.164
    phone_kind: PhoneKind
    sms_opt_in: bool | None = None  # family visit reports (短信通知N); None: the roster does not say

    def packed(self) -> tuple[Any, ...]:
        return (self.name, self.relation, self.phone, self.phone_kind._value_, self.sms_opt_in)


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
    area_code: str = ""  # 行政区划代码, checked for its shape; "" when the roster has none

    def packed(self) -> tuple[Any, ...]:
        kind = self.phone_kind._value_ if self.phone_kind is not None else None
        contacts = tuple(contact.packed() for contact in self.contacts)
        return (
            *self[:2], self.gender._value_, *self[3:5], kind, *self[6:9], self.risk._value_, *self[10:12], contacts,
            self.area_code,
        )  # fmt: skip


class VolunteerRecord(NamedTuple):
    external_id: str
    name: str
    phone: str
    phone_kind: PhoneKind
    organisation: str | None
    kind: VolunteerKind
    community_ids: tuple[int, ...]
    capacity: int

    def packed(self) -> tuple[Any, ...]:
        return (*self[:3], self.phone_kind._value_, self.organisation, self.kind._value_, *self[6:])
