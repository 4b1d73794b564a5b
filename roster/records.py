"""Validated roster rows: plain tuples, cheap to stream and to spool between the two import passes.

`packed()` is a record as the spool holds it: a plain tuple in the record's field order with every enum as its text
(equal to the member: they are StrEnums, and the columns bind both alike). Plain tuples of text unpickle at C speed;
a NamedTuple or an enum member is rebuilt through Python code, several microseconds a record, by the million.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from carevisit.storage.enums import ElderStatus, Gender, PhoneKind, RiskLevel, VolunteerKind


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
    phone: str | None  # the elder's own (E.164)
    phone_kind: PhoneKind | None
    phone2: str | None  # a second own number written in the same cell
    phone2_kind: PhoneKind | None
    address: str
    areas: tuple[str, str, str, str, str]  # province, city, district, street, community names
    classes: int  # ElderClass bits
    programmes: int  # ElderProgramme bits
    risk: RiskLevel
    consent: bool
    notes: str
    status: ElderStatus | None  # what the notes say (deceased, moved, in hospital); None: the notes say nothing
    id_card_masked: str | None  # 110102********1234
    id_card_hash: str | None  # HMAC-SHA256 of the number under the installation's key
    village_group: str  # 村民小组
    contacts: tuple[ContactRecord, ...]
    area_code: str = ""  # 行政区划代码, checked for its shape; "" when the roster has none
    # What the importer should tell about the row though it is valid (roster.problems.RowProblem): not stored.
    notices: tuple[Any, ...] = ()

    def packed(self) -> tuple[Any, ...]:
        (external_id, name, gender, born, phone, kind, phone2, kind2, address, areas, classes, programmes, risk,
         consent, notes, status, masked, keyed, village_group, contacts, area_code, _) = self  # fmt: skip
        return (
            external_id, name, gender._value_, born, phone, kind._value_ if kind is not None else None, phone2,
            kind2._value_ if kind2 is not None else None, address, areas, classes, programmes, risk._value_, consent,
            notes, status._value_ if status is not None else None, masked, keyed, village_group,
            tuple(contact.packed() for contact in contacts), area_code,
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
