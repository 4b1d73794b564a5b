"""Each cell rule on its own: what a coordinator may write, and the reason given when it is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from carevisit.roster import fields
from carevisit.roster.problems import InvalidCell
from carevisit.storage.enums import ElderClass, Gender, RiskLevel, VolunteerKind

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("独居", ElderClass.ALONE),
        ("独居、高龄", ElderClass.ALONE | ElderClass.ADVANCED_AGE),
        ("空巢;留守", ElderClass.EMPTY_NEST | ElderClass.LEFT_BEHIND),
        ("失能；重残", ElderClass.DISABLED | ElderClass.SEVERELY_HANDICAPPED),
        ("计划生育特殊家庭，高龄", ElderClass.BEREAVED_ONE_CHILD | ElderClass.ADVANCED_AGE),
        ("空巢 失能", ElderClass.EMPTY_NEST | ElderClass.DISABLED),
        ("alone, advanced_age", ElderClass.ALONE | ElderClass.ADVANCED_AGE),
        ("Empty_Nest;left-behind", ElderClass.EMPTY_NEST | ElderClass.LEFT_BEHIND),
        (
            "disabled severely_handicapped bereaved_one_child",
            ElderClass.DISABLED | ElderClass.SEVERELY_HANDICAPPED | ElderClass.BEREAVED_ONE_CHILD,
        ),
        ("独居、独居", ElderClass.ALONE),
    ],
)
def test_classes_in_chinese_or_english_with_any_separator(text: str, expected: ElderClass) -> None:
    assert fields.parse_classes(text) == int(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("独居、富裕", "unknown class '富裕'"), ("", "at least one class"), ("、、", "at least one class")],
)
def test_unknown_or_missing_classes_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidCell, match=reason):
        fields.parse_classes(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("高", RiskLevel.HIGH), ("中", RiskLevel.MEDIUM), ("低", RiskLevel.LOW), ("High", RiskLevel.HIGH),
     (" medium ", RiskLevel.MEDIUM), ("low", RiskLevel.LOW)],
)  # fmt: skip
def test_risk_levels(text: str, expected: RiskLevel) -> None:
    assert fields.parse_risk(text) is expected


@pytest.mark.parametrize("text", ["", "很高", "3", "critical"])
def test_unknown_risk_is_refused(text: str) -> None:
    with pytest.raises(InvalidCell, match="高/中/低"):
        fields.parse_risk(text)


@pytest.mark.parametrize(("text", "expected"), [("是", True), ("否", False), ("YES", True), ("no", False)])
def test_consent(text: str, expected: bool) -> None:
    assert fields.parse_consent(text) is expected


@pytest.mark.parametrize("text", ["", "也许", "maybe", "1"])
def test_consent_must_be_stated(text: str) -> None:
    with pytest.raises(InvalidCell, match="是/否"):
        fields.parse_consent(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("男", Gender.MALE), ("女", Gender.FEMALE), ("Female", Gender.FEMALE), ("m", Gender.MALE), ("", Gender.UNKNOWN)],
)
def test_gender(text: str, expected: Gender) -> None:
    assert fields.parse_gender(text) is expected


def test_unknown_gender_is_refused() -> None:
    with pytest.raises(InvalidCell, match="男/女"):
        fields.parse_gender("x")


@pytest.mark.parametrize(
    "text", ["1942-05-03", "1942/5/3", "1942.05.03", "1942年5月3日", "19420503", "1942-05-03 00:00:00", " 1942-5-3 "]
)
def test_birth_dates_in_common_spellings(text: str) -> None:
    assert fields.parse_birth_date(text, today=TODAY) == date(1942, 5, 3)


def test_an_empty_birth_date_is_unknown() -> None:
    assert fields.parse_birth_date("", today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1942-13-01", "no such date"), ("1942-02-30", "no such date"), ("三月", "not a date"),
     ("03/05/1942", "not a date"), ("2027-01-01", "in the future"), ("1899-12-31", "before 1900")],
)  # fmt: skip
def test_bad_birth_dates_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidCell, match=reason):
        fields.parse_birth_date(text, today=TODAY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("志愿者", VolunteerKind.VOLUNTEER), ("社工", VolunteerKind.SOCIAL_WORKER),
     ("社区工作人员", VolunteerKind.COMMUNITY_STAFF), ("institution_staff", VolunteerKind.INSTITUTION_STAFF),
     ("", VolunteerKind.VOLUNTEER)],
)  # fmt: skip
def test_volunteer_kinds(text: str, expected: VolunteerKind) -> None:
    assert fields.parse_kind(text) is expected


@pytest.mark.parametrize(("text", "expected"), [("15", 15), ("", 20), ("0", 0)])
def test_capacity(text: str, expected: int) -> None:
    assert fields.parse_capacity(text) == expected


@pytest.mark.parametrize(("text", "reason"), [("十五", "whole number"), ("-1", "between 0 and 500"), ("1.5", "whole")])
def test_bad_capacity_is_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidCell, match=reason):
        fields.parse_capacity(text)


def test_lists_split_on_chinese_and_english_separators() -> None:
    assert fields.split_list(" 科技园社区、高新社区；海珠社区,铜鼓社区 ，大新社区;田厦社区 沙河社区 ") == [
        "科技园社区", "高新社区", "海珠社区", "铜鼓社区", "大新社区", "田厦社区", "沙河社区",
    ]  # fmt: skip


def test_text_longer_than_its_column_is_refused() -> None:
    with pytest.raises(InvalidCell, match="too long"):
        fields.required_text("王" * 101, max_length=100)
    with pytest.raises(InvalidCell, match="required"):
        fields.required_text("  ", max_length=100)
