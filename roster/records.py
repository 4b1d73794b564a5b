"""Validated roster rows: plain tuples, cheap to stream and to spool between the two import passes."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from storage.enums import Gender, PhoneKind, RiskLevel, VolunteerKind


class ContactRecord(NamedTuple):
    name: str
    relation: str
    phone: str  # E.164
    phone_kind: PhoneKind


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


class VolunteerRecord(NamedTuple):
    external_id: str
    name: str
    phone: str
    phone_kind: PhoneKind
    organisation: str | None
    kind: VolunteerKind
    community_ids: tuple[int, ...]
    capacity: int
