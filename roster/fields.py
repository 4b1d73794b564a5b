"""Pure parsers for single roster cells. Each returns the stored value or raises InvalidCell with the reason."""

from __future__ import annotations

import re
from datetime import date

from carevisit.roster.problems import InvalidCell
from carevisit.storage.enums import ElderClass, Gender, RiskLevel, VolunteerKind

# 、 ; , and spaces, in their Chinese (full-width) and English forms.
_LIST_SEPARATORS = re.compile(r"[、;；,，\s]+")


def split_list(text: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(text.strip()) if item]


def _names(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {alias.lower(): value for value, aliases in table.items() for alias in aliases}


_CLASSES = {
    alias.lower(): flag
    for flag, aliases in {
        ElderClass.ALONE: ("独居", "alone", "living_alone", "lives_alone"),
        ElderClass.EMPTY_NEST: ("空巢", "empty_nest", "empty-nest"),
        ElderClass.LEFT_BEHIND: ("留守", "left_behind", "left-behind"),
        ElderClass.DISABLED: ("失能", "disabled"),
        ElderClass.SEVERELY_HANDICAPPED: ("重残", "severely_handicapped", "severely-handicapped"),
        ElderClass.BEREAVED_ONE_CHILD: (
            "计划生育特殊家庭",
            "计生特殊家庭",
            "失独",
            "bereaved_one_child",
            "bereaved-one-child",
        ),
        ElderClass.ADVANCED_AGE: ("高龄", "advanced_age", "advanced-age"),
    }.items()
    for alias in aliases
}
_CLASS_BITS = {alias: int(flag) for alias, flag in _CLASSES.items()}
_RISKS = _names({RiskLevel.HIGH: ("高", "high"), RiskLevel.MEDIUM: ("中", "medium"), RiskLevel.LOW: ("低", "low")})
_YES_NO = {"是": True, "否": False, "yes": True, "no": False, "y": True, "n": False, "同意": True, "不同意": False}
_GENDERS = _names(
    {
        Gender.FEMALE: ("女", "female", "f"),
        Gender.MALE: ("男", "male", "m"),
        Gender.UNKNOWN: ("未知", "unknown"),
    }
)
_KINDS = _names(
    {
        VolunteerKind.VOLUNTEER: ("志愿者", "volunteer"),
        VolunteerKind.SOCIAL_WORKER: ("社工", "社会工作者", "social_worker", "social-worker"),
        VolunteerKind.COMMUNITY_STAFF: ("社区工作人员", "社区工作者", "community_staff", "community-staff"),
        VolunteerKind.INSTITUTION_STAFF: ("机构人员", "机构工作人员", "institution_staff", "institution-staff"),
    }
)

# 1945-03-02, 1945/3/2, 1945.3.2, 1945年3月2日, 19450302.
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]00:00(?::00)?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EARLIEST_BIRTH = date(1900, 1, 1)


def parse_classes(text: str) -> int:
    """Several classes → the ElderClass bit set; at least one is needed (visits are planned by class)."""
    flags = 0  # plain int bits: IntFlag arithmetic costs microseconds a row
    for item in split_list(text):
        flag = _CLASS_BITS.get(item.lower())
        if flag is None:
            raise InvalidCell(f"unknown class {item!r} (独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄)")
        flags |= flag
    if not flags:
        raise InvalidCell("at least one class is required")
    return flags


def parse_risk(text: str) -> RiskLevel:
    risk = _RISKS.get(text.strip().lower())
    if risk is None:
        raise InvalidCell(f"risk must be 高/中/低 or high/medium/low, not {text!r}")
    return RiskLevel(risk)


def parse_consent(text: str) -> bool:
    answer = _YES_NO.get(text.strip().lower())
    if answer is None:
        raise InvalidCell(f"consent must be 是/否 or yes/no, not {text!r}")
    return answer


def parse_gender(text: str) -> Gender:
    if not text.strip():
        return Gender.UNKNOWN
    gender = _GENDERS.get(text.strip().lower())
    if gender is None:
        raise InvalidCell(f"gender must be 男/女 or male/female, not {text!r}")
    return Gender(gender)


def parse_kind(text: str) -> VolunteerKind:
    if not text.strip():
        return VolunteerKind.VOLUNTEER
    kind = _KINDS.get(text.strip().lower())
    if kind is None:
        raise InvalidCell(
            f"kind must be 志愿者/社工/社区工作人员/机构人员 (or volunteer/social_worker/…), not {text!r}"
        )
    return VolunteerKind(kind)


def parse_capacity(text: str, *, default: int = 20) -> int:
    if not text.strip():
        return default
    try:
        capacity = int(text.strip())
    except ValueError:
        raise InvalidCell(f"capacity must be a whole number of visits a month, not {text!r}") from None
    if not 0 <= capacity <= 500:
        raise InvalidCell(f"capacity must be between 0 and 500, not {capacity}")
    return capacity


def parse_birth_date(text: str, *, today: date) -> date | None:
    """Empty → unknown. Several common spellings; never in the future, never before 1900."""
    cleaned = text.strip()
    if not cleaned:
        return None
    match = _DATE.match(cleaned) or _COMPACT_DATE.match(cleaned)
    if match is None:
        raise InvalidCell(f"not a date: {text!r} (write 1945-03-02)")
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvalidCell(f"no such date: {text!r}") from None
    if day > today:
        raise InvalidCell(f"birth date {day.isoformat()} is in the future")
    if day < _EARLIEST_BIRTH:
        raise InvalidCell(f"birth date {day.isoformat()} is before 1900")
    return day


def required_text(text: str, *, max_length: int) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidCell("required, but empty")
    return optional_text(cleaned, max_length=max_length)


def optional_text(text: str, *, max_length: int) -> str:
    cleaned = text.strip()
    if len(cleaned) > max_length:
        raise InvalidCell(f"too long ({len(cleaned)} characters, at most {max_length})")
    return cleaned
