"""Elders, their emergency contacts, volunteers and coordinators: the personal data."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from carevisit.storage.enums import CoordinatorRole, ElderStatus, Gender, PhoneKind, RiskLevel, VolunteerKind
from carevisit.storage.types import UTCDateTime, enum_type


class Elder(SQLModel, table=True):
    __tablename__ = "elders"

    id: int | None = Field(default=None, primary_key=True)
    # The survey's own id (编号): re-importing it updates this row.
    external_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=100)
    gender: Gender = Field(default=Gender.UNKNOWN, sa_type=enum_type(Gender))
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=20)  # E.164
    phone_kind: PhoneKind | None = Field(default=None, sa_type=enum_type(PhoneKind))
    # A second number of the elder's own, written beside the first (`138… / 139…`).
    phone2: str | None = Field(default=None, max_length=20)  # E.164
    phone2_kind: PhoneKind | None = Field(default=None, sa_type=enum_type(PhoneKind))
    address: str = Field(default="", max_length=300)
    village_group: str = Field(default="", max_length=100)  # 村民小组
    community_id: int = Field(foreign_key="areas.id", index=True)
    # The ID-card number (身份证号码) is never stored: only its masked form for screens and a keyed hash (HMAC-SHA256
    # under storage.installation's key) to find the same person again. See carevisit.roster.rows.
    id_card_masked: str | None = Field(default=None, max_length=18)
    id_card_hash: str | None = Field(default=None, max_length=64, index=True)
    # A bit set of storage.enums.ElderClass.
    classes: int = Field(default=0)
    # A bit set of storage.enums.ElderProgramme (特困, 低保, 低收入).
    programmes: int = Field(default=0)
    risk: RiskLevel = Field(default=RiskLevel.LOW, sa_type=enum_type(RiskLevel))
    consent: bool = True
    status: ElderStatus = Field(default=ElderStatus.ACTIVE, sa_type=enum_type(ElderStatus), index=True)
    paused_until: date | None = None
    enrolled_on: date
    notes: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class EmergencyContact(SQLModel, table=True):
    """Paged in `position` order when an incident opens.

    A contact the roster no longer lists but whom a message names (an outbox row) is kept as history: `removed_at`
    is set and `position` becomes -id, freeing its place; nothing pages or reports to it any more. Listed again (the
    same phone), the same row comes back.
    """

    __tablename__ = "emergency_contacts"
    __table_args__ = (UniqueConstraint("elder_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(sa_column=Column(Integer, ForeignKey("elders.id", ondelete="CASCADE"), index=True))
    position: int
    name: str = Field(max_length=100)
    relation: str = Field(default="", max_length=50)
    phone: str = Field(max_length=20)  # E.164
    phone_kind: PhoneKind = Field(sa_type=enum_type(PhoneKind))
    # 赡养人/扶养人: the guideline asks visitors to press them to meet their obligations.
    is_carer: bool = False
    # Family visit reports by SMS; an SMS reply STOP/退订 clears it.
    sms_opt_in: bool = False
    language: str | None = Field(default=None, max_length=8)
    opted_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Volunteer(SQLModel, table=True):
    __tablename__ = "volunteers"

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=20)  # E.164
    phone_kind: PhoneKind | None = Field(default=None, sa_type=enum_type(PhoneKind))
    kind: VolunteerKind = Field(default=VolunteerKind.VOLUNTEER, sa_type=enum_type(VolunteerKind))
    organisation_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    capacity: int = Field(default=20)  # visits a month
    active: bool = True
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    telegram_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    wecom_userid: str | None = Field(default=None, max_length=64, unique=True)  # a member of the operator's WeCom
    language: str | None = Field(default=None, max_length=8)
    linked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class VolunteerCommunity(SQLModel, table=True):
    """The communities a volunteer serves."""

    __tablename__ = "volunteer_communities"

    volunteer_id: int = Field(
        sa_column=Column(Integer, ForeignKey("volunteers.id", ondelete="CASCADE"), primary_key=True)
    )
    area_id: int = Field(foreign_key="areas.id", primary_key=True, index=True)


class Coordinator(SQLModel, table=True):
    """Community, street or district staff; they see and manage only their area's subtree."""

    __tablename__ = "coordinators"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=20)  # E.164
    phone_kind: PhoneKind | None = Field(default=None, sa_type=enum_type(PhoneKind))
    username: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=200)  # argon2
    role: CoordinatorRole = Field(default=CoordinatorRole.COORDINATOR, sa_type=enum_type(CoordinatorRole))
    area_id: int = Field(foreign_key="areas.id", index=True)
    active: bool = True
    telegram_user_id: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    telegram_chat_id: int | None = Field(default=None, sa_type=BigInteger)
    wecom_userid: str | None = Field(default=None, max_length=64, unique=True)  # a member of the operator's WeCom
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Part of every signed session cookie: raising it (sign-out, a new password) ends every older session.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Sign-in throttling kept here so that every web process agrees on an account's failures and lock.
    failed_logins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
