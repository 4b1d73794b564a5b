"""Each cell rule on its own: what a coordinator may write, and the reason given when it is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from carevisit.roster import fields
from carevisit.roster.problems import InvalidCell
from carevisit.storage.enums import ElderClass, ElderProgramme, ElderStatus, Gender, RiskLevel, VolunteerKind

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


# --- values as people write them ---------------------------------------------------------------------------------


def _id_card(first17: str) -> str:
    return first17 + fields.id_card_check_digit(first17)


WANG = _id_card("11010219480312123")  # born 1948-03-12, 17th digit 3: a man
LI = _id_card("44030519420503124")  # born 1942-05-03, 17th digit 4: a woman
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")  # as some input methods type them


def test_the_check_digit_is_iso_7064_mod_11_2() -> None:
    # GB 11643-1999's own example, and one whose check digit is X.
    assert fields.id_card_check_digit("11010519491231002") == "X"
    assert fields.parse_id_card("11010519491231002x", today=TODAY) is not None


@pytest.mark.parametrize(
    ("text", "born", "gender"),
    [(WANG, date(1948, 3, 12), Gender.MALE), (LI, date(1942, 5, 3), Gender.FEMALE),
     (f" {LI} ", date(1942, 5, 3), Gender.FEMALE), (LI.translate(FULL_WIDTH), date(1942, 5, 3), Gender.FEMALE)],
)  # fmt: skip
def test_an_id_card_number_gives_birth_date_and_gender(text: str, born: date, gender: Gender) -> None:
    card = fields.parse_id_card(text, today=TODAY)
    assert card is not None and (card.birth_date, card.gender) == (born, gender)
    assert card.masked == f"{card.number[:6]}********{card.number[-4:]}"


def test_an_old_15_digit_number_becomes_the_18_digit_one() -> None:
    card = fields.parse_id_card("110102480312123", today=TODAY)
    assert card is not None and card.number == WANG


def test_an_id_card_never_shows_its_number() -> None:
    card = fields.parse_id_card(WANG, today=TODAY)
    assert WANG not in repr(card) and WANG not in str(card)
    assert card is not None and card.keyed_hash(b"k1") != card.keyed_hash(b"k2") and WANG not in card.keyed_hash(b"k1")


@pytest.mark.parametrize(
    ("text", "reason", "zh"),
    [
        ("1.10102E+17", "scientific notation", "科学计数法"),
        ("4.40305E+17", "last digits are lost", "设为文本格式"),
        ("110102194803121000", "keeps only 15 digits", "只保留数字的前15位"),
        ("110102194803120992", "keeps only 15 digits", "只保留数字的前15位"),  # the double Excel stores
        (WANG[:-1] + ("1" if WANG[-1] != "1" else "2"), "check digit", "校验位不符"),
        ("11010219480312", "has 14", "是14位"),
        ("1101021948031212X3", "17 digits, then a digit or X", "最后一位为数字或X"),
        (_id_card("99010219480312123"), "province code", "省级"),
        (_id_card("11010219481332123"), "no possible birth date", "出生日期不成立"),
        (_id_card("11010220300312123"), "no possible birth date", "出生日期不成立"),
    ],
)
def test_damaged_id_card_numbers_are_refused_with_the_reason_and_masked(text: str, reason: str, zh: str) -> None:
    with pytest.raises(InvalidCell, match=reason) as refused:
        fields.parse_id_card(text, today=TODAY)
    assert zh in refused.value.zh
    # The message never holds the digits the mask hides.
    if len(text) == 18:
        assert text[6:14] not in str(refused.value) and text[6:14] not in refused.value.zh


@pytest.mark.parametrize(
    ("text", "expected", "to_the_day"),
    [("1948.3", date(1948, 3, 1), False), ("1948年3月", date(1948, 3, 1), False), ("1948-03", date(1948, 3, 1), False),
     ("1948/3", date(1948, 3, 1), False), ("194803", date(1948, 3, 1), False), ("1948.12", date(1948, 12, 1), False),
     ("19480312", date(1948, 3, 12), True), ("1948/3/12", date(1948, 3, 12), True),
     ("1948年3月12日", date(1948, 3, 12), True), ("1948.03.12", date(1948, 3, 12), True)],
)  # fmt: skip
def test_birth_dates_to_the_month_or_the_day(text: str, expected: date, to_the_day: bool) -> None:
    assert fields.parse_birth(text, today=TODAY) == (expected, to_the_day)
    assert fields.parse_birth_date(text, today=TODAY) == expected


def test_a_five_digit_number_is_named_as_an_excel_date_serial() -> None:
    with pytest.raises(InvalidCell, match=r"looks like an Excel date serial \(1948-03-12\)") as refused:
        fields.parse_birth_date("17604", today=TODAY)
    assert "Excel 的日期序号" in refused.value.zh
    with pytest.raises(InvalidCell, match="not a date") as refused:
        fields.parse_birth_date("99999", today=TODAY)  # after today: not a serial we name
    assert "序号" not in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("高风险", RiskLevel.HIGH), ("重点", RiskLevel.HIGH), ("重点关注", RiskLevel.HIGH), ("中风险", RiskLevel.MEDIUM),
     ("一般", RiskLevel.LOW), ("低风险", RiskLevel.LOW), ("一般关注", RiskLevel.LOW)],
)  # fmt: skip
def test_risk_as_local_rules_write_it(text: str, expected: RiskLevel) -> None:
    assert fields.parse_risk(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("每周一次", RiskLevel.HIGH), ("每周1次", RiskLevel.HIGH), ("每半月一次", RiskLevel.MEDIUM),
     ("每月两次", RiskLevel.MEDIUM), ("每月一次", RiskLevel.LOW), ("每月", RiskLevel.LOW)],
)  # fmt: skip
def test_a_visit_frequency_reads_as_the_tier_the_shipped_policy_visits_that_often(
    text: str, expected: RiskLevel
) -> None:
    """探访频次 columns say how often; the shipped policy visits high weekly, medium twice a month, low monthly."""
    assert fields.parse_risk(text) is expected


@pytest.mark.parametrize(("text", "expected"), [("女性", Gender.FEMALE), ("男性", Gender.MALE)])
def test_gender_written_out(text: str, expected: Gender) -> None:
    assert fields.parse_gender(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("独居、低保", (ElderClass.ALONE, ElderProgramme.MINIMUM_LIVING)),
     ("分散供养", (0, ElderProgramme.EXTREME_POVERTY)),
     ("五保户 空巢", (ElderClass.EMPTY_NEST, ElderProgramme.EXTREME_POVERTY)),
     ("特困；低保边缘", (0, ElderProgramme.EXTREME_POVERTY | ElderProgramme.LOW_INCOME))],
)  # fmt: skip
def test_programmes_are_recorded_beside_the_classes(text: str, expected: tuple[int, int]) -> None:
    assert fields.parse_categories(text) == (int(expected[0]), int(expected[1]))


def test_programmes_named_in_notes() -> None:
    assert fields.programmes_in("低保户，子女在外地") == ElderProgramme.MINIMUM_LIVING
    assert fields.programmes_in("子女在外地") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("已去世", ElderStatus.DECEASED), ("去世", ElderStatus.DECEASED), ("死亡", ElderStatus.DECEASED),
     ("2025年3月已去世", ElderStatus.DECEASED), ("本人已故", ElderStatus.DECEASED), ("住院", ElderStatus.PAUSED),
     ("目前住院中", ElderStatus.PAUSED), ("现住院，女儿陪护", ElderStatus.PAUSED), ("已搬离", ElderStatus.MOVED),
     ("搬走", ElderStatus.MOVED), ("2024.5迁出", ElderStatus.MOVED), ("住院；已去世", ElderStatus.DECEASED),
     ("老伴去世，独居", None), ("独生子女死亡", None), ("老伴住院", None), ("子女在外地", None), ("", None)],
)  # fmt: skip
def test_notes_about_the_elder_set_the_status_and_notes_about_others_do_not(
    text: str, expected: ElderStatus | None
) -> None:
    assert fields.status_in_notes(text) == expected


TWO = ["13800138000", "13912345678"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("13800138000", ["13800138000"]), ("", []), ("13800138000 / 13912345678", TWO), ("13800138000、13912345678", TWO),
     ("13800138000,13912345678", TWO), ("13800138000；13912345678", TWO), ("13800138000 13912345678", TWO),
     ("010 6240 1246", ["010 6240 1246"]), ("010-62401246 / 13800138000", ["010-62401246", "13800138000"])],
)  # fmt: skip
def test_two_phone_numbers_in_one_cell(text: str, expected: list[str]) -> None:
    assert fields.split_phones(text) == expected
