"""The programme's fixed vocabularies, stored by their codes.

They sit in storage because the tables need them and storage imports nothing above it; the domain re-exports them.
"""

from __future__ import annotations

from enum import IntFlag, StrEnum


class AreaLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"

    @property
    def depth(self) -> int:
        return list(AreaLevel).index(self)


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    UNKNOWN = "unknown"


class ElderClass(IntFlag):
    """The guideline's classes of elders with special difficulties; an elder may be in several (a bit set)."""

    ALONE = 1  # 独居
    EMPTY_NEST = 2  # 空巢
    LEFT_BEHIND = 4  # 留守
    DISABLED = 8  # 失能
    SEVERELY_HANDICAPPED = 16  # 重残
    BEREAVED_ONE_CHILD = 32  # 计划生育特殊家庭
    ADVANCED_AGE = 64  # 高龄


class ElderProgramme(IntFlag):
    """Social-assistance programmes an elder is in, as the survey records them (a bit set); not classes."""

    EXTREME_POVERTY = 1  # 特困人员 (五保; 分散供养 or 集中供养)
    MINIMUM_LIVING = 2  # 低保
    LOW_INCOME = 4  # 低收入 / 低保边缘


class RiskLevel(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ElderStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # e.g. in hospital: skipped while paused
    MOVED = "moved"
    DECEASED = "deceased"
    WITHDREW = "withdrew"


class PhoneKind(StrEnum):
    """What a number can take: SMS needs a mobile; a fixed line only takes calls."""

    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    MOBILE_OR_FIXED = "mobile_or_fixed"  # +1 numbers cannot be told apart offline
    OTHER = "other"  # shared-cost, toll-free, VoIP…: calls only


class OrganisationKind(StrEnum):
    SOCIAL_ORGANISATION = "social_organisation"
    CARE_INSTITUTION = "care_institution"
    DAY_CARE_CENTRE = "day_care_centre"
    COMMUNITY = "community"
    OTHER = "other"


class VolunteerKind(StrEnum):
    VOLUNTEER = "volunteer"
    SOCIAL_WORKER = "social_worker"
    COMMUNITY_STAFF = "community_staff"
    INSTITUTION_STAFF = "institution_staff"


class CoordinatorRole(StrEnum):
    VIEWER = "viewer"  # reads reports for the area subtree
    COORDINATOR = "coordinator"  # manages visits, problems and incidents in the subtree
    ADMIN = "admin"  # also manages accounts and rosters


class VisitMode(StrEnum):
    HOME = "home"  # 上门入户
    PHONE = "phone"  # 电话
    VIDEO = "video"  # 视频
    REMOTE = "remote"  # 远程监测


class VisitKind(StrEnum):
    PLANNED = "planned"  # from the monthly plan
    EXTRA = "extra"  # ordered by a coordinator, with a deadline
    UNPLANNED = "unplanned"  # logged by a volunteer after the fact


class VisitStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    MISSED = "missed"  # unconfirmed at month end; stays on record
    CANCELLED = "cancelled"  # the elder left the plan (moved, deceased, withdrew, paused)


class VisitOutcome(StrEnum):
    WELL = "well"
    PROBLEM = "problem"
    URGENT = "urgent"


class ProblemCategory(StrEnum):
    HEALTH = "health"
    HOME_SAFETY = "home_safety"
    LIVING_DIFFICULTY = "living_difficulty"
    CARER_OBLIGATION = "carer_obligation"
    LONELINESS = "loneliness"
    INFECTIOUS = "infectious"
    REFERRAL = "referral"
    OTHER = "other"


class ProblemStatus(StrEnum):
    OPEN = "open"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # someone responsible is on it
    RESOLVED = "resolved"  # the handling record is written


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    TELEGRAM = "telegram"


class DeliveryStatus(StrEnum):
    """An outbound message's life; `rank` orders provider callbacks that may arrive out of order."""

    PENDING = "pending"
    SENDING = "sending"
    QUEUED = "queued"
    SENT = "sent"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    TEMPORARY_FAILURE = "temporary_failure"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        return _DELIVERY_RANK[self]


_DELIVERY_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.TEMPORARY_FAILURE: 1,
    DeliveryStatus.SENDING: 2,
    DeliveryStatus.QUEUED: 3,
    DeliveryStatus.SENT: 4,
    DeliveryStatus.RINGING: 4,
    DeliveryStatus.IN_PROGRESS: 5,
    DeliveryStatus.DELIVERED: 6,
    DeliveryStatus.COMPLETED: 6,
    DeliveryStatus.UNDELIVERED: 7,
    DeliveryStatus.FAILED: 7,
    DeliveryStatus.NO_ANSWER: 7,
    DeliveryStatus.BUSY: 7,
    DeliveryStatus.CANCELED: 7,
}
