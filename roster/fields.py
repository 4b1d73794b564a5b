"""Pure parsers for single roster cells. Each returns the stored value or raises InvalidCell with the reason, in
English and Chinese.

Values are read as community workers write them: dates to the month (`1948.3`, `1948年3月`) or the day, risk as the
tiers local rules use (高风险/重点/一般), 女性/男性, and notes that say an elder died, moved or is in hospital.

ID-card numbers (居民身份证号码, GB 11643-1999): 18 characters, the last an ISO 7064 MOD 11-2 check digit (0-9 or X);
an old 15-digit number is converted to 18 as GB 11643 does it (birth year 19YY, check digit added). The birth date
and gender (the 17th digit: odd for a man) come from it. What a damaged number looks like — Excel's scientific
notation (`1.10102E+17`), or its 15 significant digits rounding the end to `000` — is refused with that reason, so
the worker knows to format the column as text and type the number again. The full number is never stored, logged
or shown: see `IdCard`, and `roster.rows` for what is kept (the masked form and a keyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta

from carevisit.roster.problems import InvalidCell
from carevisit.storage.enums import ElderClass, ElderProgramme, ElderStatus, Gender, RiskLevel, VolunteerKind

# 、 ; , and spaces, in their Chinese (full-width) and English forms.
_LIST_SEPARATORS = re.compile(r"[、;；,，\s]+")


def split_list(text: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(text.strip()) if item]


# Between two phone numbers in one cell: / 、 , ; | (either width). A space separates numbers only when each side is
# a whole number (at least 7 digits): "010 6240 1246" is one number, "13800138000 13912345678" two.
_PHONE_SEPARATORS = re.compile(r"[/、,，;；|｜]")


def split_phones(text: str) -> list[str]:
    """The numbers written in one phone cell, in order."""
    cleaned = text.strip()
    if cleaned.isdigit() or not cleaned:  # nearly every cell: one number, or none
        return [cleaned] if cleaned else []
    numbers: list[str] = []
    for part in _PHONE_SEPARATORS.split(cleaned):
        part = part.strip()
        if not part:
            continue
        pieces = part.split()
        if len(pieces) > 1 and all(sum(char.isdigit() for char in piece) >= 7 for piece in pieces):
            numbers.extend(pieces)
        else:
            numbers.append(part)
    return numbers


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
# Social-assistance programmes an elder is in (特困供养, 低保): recorded, not classes (visits are planned by class).
# 五保 is 特困's old name; 分散供养 and 集中供养 are the two ways 特困 people are supported.
_PROGRAMMES = {
    alias: int(flag)
    for flag, aliases in {
        ElderProgramme.EXTREME_POVERTY: (
            "特困", "特困人员", "特困供养", "特困供养人员", "分散供养", "分散供养特困", "分散供养特困人员", "集中供养",
            "五保", "五保户", "extreme_poverty",
        ),
        ElderProgramme.MINIMUM_LIVING: ("低保", "低保户", "低保对象", "minimum_living"),
        ElderProgramme.LOW_INCOME: ("低收入", "低收入家庭", "低边", "低保边缘", "low_income"),
    }.items()
    for alias in aliases
}  # fmt: skip
# 高/中/低 and the tiers local rules use: 高风险/中风险/低风险, 重点 (关注) and 一般 (关注).
_RISKS = _names(
    {
        # A 探访频次 column says how often instead: the tier whose shipped visit policy visits that often.
        RiskLevel.HIGH: (
            "高",
            "high",
            "高风险",
            "重点",
            "重点关注",
            "重点对象",
            "每周",
            "每周一次",
            "每周1次",
            "一周一次",
            "每周探访",
            "weekly",
        ),
        RiskLevel.MEDIUM: (
            "中",
            "medium",
            "中风险",
            "较高",
            "每半月",
            "每半月一次",
            "半月一次",
            "每两周",
            "两周一次",
            "每月两次",
            "每月2次",
            "每月二次",
        ),
        RiskLevel.LOW: (
            "低",
            "low",
            "低风险",
            "一般",
            "一般关注",
            "一般对象",
            "每月",
            "每月一次",
            "每月1次",
            "monthly",
        ),
    }
)
_YES_NO = {"是": True, "否": False, "yes": True, "no": False, "y": True, "n": False, "同意": True, "不同意": False}
_GENDERS = _names(
    {
        Gender.FEMALE: ("女", "女性", "female", "f"),
        Gender.MALE: ("男", "男性", "male", "m"),
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
# To the month: 1945.3, 1945-03, 1945/3, 1945年3月, 194503.
_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$|^(\d{4})(\d{2})$")
_EARLIEST_BIRTH = date(1900, 1, 1)
# Excel counts days from 1899-12-30; a five-digit number from 1900 to today is what a date cell becomes as text.
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_classes(text: str) -> int:
    """Several classes → the ElderClass bit set; at least one is needed (visits are planned by class)."""
    classes, _ = parse_categories(text)
    return classes


def parse_categories(text: str) -> tuple[int, int]:
    """A 类别 cell → (ElderClass bits, ElderProgramme bits). Programmes (特困, 低保…) are recorded beside the classes;
    a cell naming only a programme is accepted (the visit policy's last rule plans everyone)."""
    classes = programmes = 0  # plain int bits: IntFlag arithmetic costs microseconds a row
    for item in split_list(text):
        flag = _CLASS_BITS.get(item.lower())
        if flag is not None:
            classes |= flag
            continue
        programme = _PROGRAMMES.get(item.lower())
        if programme is None:
            raise InvalidCell(
                f"unknown class {item!r} (独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄, or 特困 低保 低收入)",
                zh=f"未知的类别“{item}”（可填：独居 空巢 留守 失能 重残 计划生育特殊家庭 高龄，或 特困 低保 低收入）",
            )
        programmes |= programme
    if not classes and not programmes:
        raise InvalidCell("at least one class is required", zh="至少要填一个类别")
    return classes, programmes


def programmes_in(text: str) -> int:
    """The programmes a free text (备注) names: 低保户, 特困供养人员… anywhere in it."""
    found = 0
    for alias, flag in _PROGRAMMES.items():
        if alias in text and not alias.isascii():
            found |= flag
    return found


def parse_risk(text: str) -> RiskLevel:
    risk = _RISKS.get(text.strip().lower())
    if risk is None:
        raise InvalidCell(
            f"risk must be 高/中/低 (or 高风险/中风险/低风险, 重点/一般, high/medium/low), not {text!r}",
            zh=f"风险等级应填 高/中/低（或 高风险/中风险/低风险、重点/一般），不是“{text}”",
        )
    return RiskLevel(risk)


def parse_consent(text: str) -> bool:
    answer = _YES_NO.get(text.strip().lower())
    if answer is None:
        raise InvalidCell(f"consent must be 是/否 or yes/no, not {text!r}", zh=f"是否同意应填 是/否，不是“{text}”")
    return answer


def parse_gender(text: str) -> Gender:
    if not text.strip():
        return Gender.UNKNOWN
    gender = _GENDERS.get(text.strip().lower())
    if gender is None:
        raise InvalidCell(f"gender must be 男/女 or male/female, not {text!r}", zh=f"性别应填 男/女，不是“{text}”")
    return Gender(gender)


def parse_kind(text: str) -> VolunteerKind:
    if not text.strip():
        return VolunteerKind.VOLUNTEER
    kind = _KINDS.get(text.strip().lower())
    if kind is None:
        raise InvalidCell(
            f"kind must be 志愿者/社工/社区工作人员/机构人员 (or volunteer/social_worker/…), not {text!r}",
            zh=f"类型应填 志愿者/社工/社区工作人员/机构人员，不是“{text}”",
        )
    return VolunteerKind(kind)


def parse_capacity(text: str, *, default: int = 20) -> int:
    if not text.strip():
        return default
    try:
        capacity = int(text.strip())
    except ValueError:
        raise InvalidCell(
            f"capacity must be a whole number of visits a month, not {text!r}", zh=f"每月上限应为整数，不是“{text}”"
        ) from None
    if not 0 <= capacity <= 500:
        raise InvalidCell(
            f"capacity must be between 0 and 500, not {capacity}", zh=f"每月上限应在0到500之间，不是{capacity}"
        )
    return capacity


def parse_birth_date(text: str, *, today: date) -> date | None:
    """Empty → unknown. Several common spellings; never in the future, never before 1900. A date written to the month
    (`1948.3`, `1948年3月`) is stored as its first day."""
    birth = parse_birth(text, today=today)
    return birth[0] if birth else None


def parse_birth(text: str, *, today: date) -> tuple[date, bool] | None:
    """`parse_birth_date`, and whether the day was written (False: only the year and month)."""
    cleaned = text.strip()
    if not cleaned:
        return None
    match = _DATE.match(cleaned) or _COMPACT_DATE.match(cleaned)
    to_the_day = match is not None
    if match is None:
        match = _MONTH.match(cleaned)
        if match is None:
            raise _not_a_date(cleaned, today)
    year, month, day = (
        (match.group(1), match.group(2), match.group(3) if to_the_day else "1")
        if match.group(1)
        else (match.group(3), match.group(4), "1")
    )
    try:
        born = date(int(year), int(month), int(day))
    except ValueError:
        raise InvalidCell(f"no such date: {text!r}", zh=f"没有这个日期：“{cleaned}”") from None
    if born > today:
        raise InvalidCell(f"birth date {born.isoformat()} is in the future", zh=f"出生日期 {born.isoformat()} 晚于今天")
    if born < _EARLIEST_BIRTH:
        raise InvalidCell(f"birth date {born.isoformat()} is before 1900", zh=f"出生日期 {born.isoformat()} 早于1900年")
    return born, to_the_day


def _not_a_date(cleaned: str, today: date) -> InvalidCell:
    if len(cleaned) == 5 and cleaned.isdigit():
        serial = _EXCEL_EPOCH + timedelta(days=int(cleaned))
        if _EARLIEST_BIRTH <= serial <= today:
            return InvalidCell(
                f"not a date: {cleaned!r} looks like an Excel date serial ({serial.isoformat()}); "
                "format the column as a date, or write 1945-03-02",
                zh=f"不是日期：“{cleaned}”像是 Excel 的日期序号（即 {serial.isoformat()}）；请把该列设为日期格式，"
                "或写成 1945-03-02",
            )
    return InvalidCell(
        f"not a date: {cleaned!r} (write 1945-03-02, 1945.3 or 1945年3月)",
        zh=f"不是日期：“{cleaned}”（请写成 1945-03-02、1945.3 或 1945年3月）",
    )


# --- ID-card numbers ----------------------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The province-level codes of GB/T 2260 (and 81-83: residence permits of Hong Kong, Macao and Taiwan people).
_ID_PROVINCES = frozenset((
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
))  # fmt: skip
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


@dataclass(frozen=True, slots=True)
class IdCard:
    """A valid ID-card number, in memory only: what is stored or shown is `masked` and `keyed_hash`."""

    number: str  # 18 characters
    birth_date: date
    gender: Gender

    @property
    def masked(self) -> str:
        """110102********1234: the region and the last four, never the birth date in the middle."""
        return mask_id_card(self.number)

    def keyed_hash(self, key: bytes) -> str:
        """HMAC-SHA256 under the installation's key: the same person matches on re-import, and the number cannot be
        looked up from the hash without the key."""
        return hmac.new(key, self.number.encode("ascii"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the number, even in a traceback or a debugger
        return f"IdCard({self.masked})"


def mask_id_card(text: str) -> str:
    """The masked form of anything written in an ID-card cell, for messages: never more than 6 + 4 characters."""
    cleaned = text.strip()
    if len(cleaned) <= 10:
        return "*" * len(cleaned)
    return f"{cleaned[:6]}{'*' * (len(cleaned) - 10)}{cleaned[-4:]}"


def id_card_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _rounded_by_excel(number: str) -> bool:
    """An 18-digit number as Excel leaves it: rounded to 15 significant digits (…121000), or that value read back
    from the file's binary double (…120992)."""
    if number.endswith("000"):
        return True
    if not number.isdigit():
        return False
    value = int(number)
    return int(float(f"{value:.15g}")) == value


def upgraded_id_card(old: str) -> str:
    """A first-generation 15-digit number as its 18-digit form (GB 11643: born 19YY, a check digit added)."""
    body = f"{old[:6]}19{old[6:]}"
    return body + id_card_check_digit(body)


def parse_id_card(text: str, *, today: date) -> IdCard | None:
    """Empty → None. 18 characters with a right check digit, or an old 15-digit number (converted to 18)."""
    cleaned = text.strip()
    if not cleaned:
        return None
    if not cleaned.isascii():
        cleaned = cleaned.translate(_FULL_WIDTH)
    cleaned = cleaned.replace(" ", "").upper()
    shown = mask_id_card(cleaned)
    if "E+" in cleaned or (cleaned.count(".") == 1 and cleaned.replace(".", "").isdigit()):
        raise InvalidCell(
            f"the ID-card number {shown!r} was turned into a number by Excel (scientific notation) and its last "
            "digits are lost; format the column as text and type the number again",
            zh=f"身份证号码“{shown}”已被 Excel 转成数字（科学计数法），后几位已丢失；请把该列设为文本格式后重新录入",
        )
    if len(cleaned) == 15 and cleaned.isdigit():  # a first-generation card: born 19YY, no check digit
        cleaned = upgraded_id_card(cleaned)
    elif len(cleaned) != 18:
        raise InvalidCell(
            f"an ID-card number has 18 characters, {shown!r} has {len(cleaned)}",
            zh=f"身份证号码应为18位，“{shown}”是{len(cleaned)}位",
        )
    body, check = cleaned[:17], cleaned[17]
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        raise InvalidCell(
            f"not an ID-card number: {shown!r} (17 digits, then a digit or X)",
            zh=f"不是身份证号码：“{shown}”（前17位为数字，最后一位为数字或X）",
        )
    if check != id_card_check_digit(body):
        if _rounded_by_excel(cleaned):
            raise InvalidCell(
                f"the ID-card number {shown!r} lost its last digits in Excel, which keeps only 15 digits of a number "
                "(the check digit does not match); format the column as text and type the number again",
                zh=f"身份证号码“{shown}”的末几位已被 Excel 改动（Excel 只保留数字的前15位，校验位不符）；"
                "请把该列设为文本格式后重新录入",
            )
        raise InvalidCell(
            f"the ID-card number {shown!r} is wrong (its check digit does not match: a digit mistyped?)",
            zh=f"身份证号码“{shown}”有误（校验位不符，可能输错了某一位）",
        )
    if cleaned[:2] not in _ID_PROVINCES:
        raise InvalidCell(
            f"the ID-card number {shown!r} starts with no province code",
            zh=f"身份证号码“{shown}”的开头不是有效的省级行政区划代码",
        )
    try:
        born = date(int(cleaned[6:10]), int(cleaned[10:12]), int(cleaned[12:14]))
    except ValueError:
        born = None
    if born is None or not _EARLIEST_BIRTH <= born <= today:
        raise InvalidCell(
            f"the ID-card number {shown!r} holds no possible birth date",
            zh=f"身份证号码“{shown}”中的出生日期不成立",
        )
    return IdCard(cleaned, born, Gender.MALE if int(cleaned[16]) % 2 else Gender.FEMALE)


# --- Notes (备注) -------------------------------------------------------------------------------------------------

# What a note says about the elder, clause by clause. A clause counts only when it is about the elder: a keyword on
# its own, maybe after a date, 已 or 本人/老人 — "老伴去世" (the spouse died: the elder now lives alone) is not.
_NOTE_STATUSES = {
    ElderStatus.DECEASED: ("去世", "已去世", "死亡", "已死亡", "已故", "病故", "过世", "已过世", "身故", "亡故"),
    ElderStatus.MOVED: (
        "搬离", "已搬离", "搬走", "已搬走", "迁出", "已迁出", "外迁", "已外迁", "搬家", "已搬家", "户籍迁出",
        "随子女搬走", "随子女迁出", "已不在本社区居住", "不在本地居住",
    ),
    ElderStatus.PAUSED: ("住院", "住院中", "正在住院", "在住院", "现住院", "已住院", "住院治疗", "住院治疗中"),
}  # fmt: skip
_NOTE_WORDS = {word: status for status, words in _NOTE_STATUSES.items() for word in words}
_NOTE_CLAUSES = re.compile(r"[，,。.；;、\s!！]+")
_NOTE_PREFIX = re.compile(r"^(?:本人|老人)?(?:于|在)?[\d年月日号/\-－.]*(?:份)?(?:本人|老人)?(?:目前|现在|现已)?")
# Cheap first look: notes without any of these characters (nearly all) need no clause splitting.
_NOTE_HINTS = frozenset("去死故世搬迁住居")
# Deceased over moved over in hospital, whatever their order in the note.
_NOTE_RANK = {ElderStatus.DECEASED: 0, ElderStatus.MOVED: 1, ElderStatus.PAUSED: 2}


def status_in_notes(text: str) -> ElderStatus | None:
    """What a 备注 says the elder's status is: deceased (never planned again), moved, or in hospital (paused until
    someone resumes them); None when it says none of these."""
    if not _NOTE_HINTS.intersection(text):
        return None
    found: ElderStatus | None = None
    for clause in _NOTE_CLAUSES.split(text):
        status = _NOTE_WORDS.get(_NOTE_PREFIX.sub("", clause, count=1)) if clause else None
        if status is not None and (found is None or _NOTE_RANK[status] < _NOTE_RANK[found]):
            found = status
    return found


def required_text(text: str, *, max_length: int) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidCell("required, but empty", zh="必填，但为空")
    return optional_text(cleaned, max_length=max_length)


def optional_text(text: str, *, max_length: int) -> str:
    cleaned = text.strip()
    if len(cleaned) > max_length:
        raise InvalidCell(
            f"too long ({len(cleaned)} characters, at most {max_length})",
            zh=f"太长（{len(cleaned)}个字，最多{max_length}个）",
        )
    return cleaned
