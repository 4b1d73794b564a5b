"""Row validation: cells in, a record or every problem in the row out. Pure: no database, no clock.

An elder's ID-card number (身份证号码) is checked (`fields.parse_id_card`), fills an empty birth date or gender and
must agree with them when they are written. It is kept only as `id_card_masked` (110102********1234, for screens)
and `id_card_hash` (HMAC-SHA256 under the installation's own key, `storage.installation`, for matching a person on
re-import and for finding them by their number); the full number is not stored, since no visit needs it. Note that
the masked form hides exactly the birth date, which is stored in its own column: the database as a whole must be
guarded as holding the number. Without a 编号 column the ID is the elder's key: `external_id` is the masked number
and the first hex digits of the hash (`110102********1234-3fa9c2`), unique and safe to show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import cache, lru_cache, partial
from typing import TypeVar

from carevisit.care.phones import InvalidPhone, Phone, parse_phone
from carevisit.roster import fields
from carevisit.roster.area_codes import parse_area_code
from carevisit.roster.columns import AREA_FIELDS, Columns
from carevisit.roster.problems import InvalidCell, RowProblem
from carevisit.roster.records import ContactRecord, ElderRecord, VolunteerRecord
from carevisit.storage.enums import ElderStatus

T = TypeVar("T")

# Field lengths of the tables (storage.models.people / areas): checked here so PostgreSQL never refuses a row later.
_LENGTHS = {"id": 64, "name": 100, "address": 300, "relation": 50, "area": 100, "organisation": 200, "notes": 4000}


class _Row:
    """Collects the problems of one row while its cells are parsed."""

    def __init__(self, cells: list[str], columns: Columns, *, file: str, row: int) -> None:
        self.texts, cell_problems = columns.read(cells)
        self.columns = columns
        self.file = file
        self.row = row
        self.problems: list[RowProblem] = []
        for name, reason in cell_problems:  # invisible characters in an id or a name, a tick that is not one
            self.problem(name, reason)

    def text(self, name: str) -> str:
        return self.texts.get(name, "")

    def parse(self, name: str, parser: Callable[[str], T], default: T) -> T:
        try:
            return parser(self.texts.get(name, ""))
        except InvalidCell as error:
            self.problem(name, str(error), error.zh)
            return default

    def required(self, name: str, *, max_length: int) -> str:
        """`fields.required_text` of the cell; a valid cell (nearly all of them) skips the parser's call chain."""
        text = self.texts.get(name, "")
        if text and len(text) <= max_length:
            return text
        return self.parse(name, partial(fields.required_text, max_length=max_length), "")

    def optional(self, name: str, *, max_length: int) -> str:
        """`fields.optional_text` of the cell, the same way."""
        text = self.texts.get(name, "")
        if len(text) <= max_length:
            return text
        return self.parse(name, partial(fields.optional_text, max_length=max_length), "")

    def problem(self, name: str, reason: str, reason_zh: str = "") -> None:
        label = self.columns.label.get(name, name)
        position = self.columns.position_of(name)
        self.problems.append(RowProblem(self.file, self.row, label, reason, reason_zh, position))


@lru_cache(maxsize=65_536)
def _phone(text: str, region: str) -> Phone:
    # Families share numbers; the cache saves re-parsing them (the full phonenumbers parse of a number written
    # with a +, a trunk 0 or separators costs some 50 µs).
    return parse_phone(text, region)


_INVALID_PHONE_ZH = {"not a phone number": "不是电话号码", "not a valid phone number": "不是有效的电话号码"}


def phone_cell(text: str, region: str, *, required: bool, area_code: str | None = None) -> Phone | None:
    """One number. `area_code` (`CAREVISIT_DEFAULT_AREA_CODE`) completes a local landline written without one."""
    cleaned = text.strip()
    if not cleaned:
        if required:
            raise InvalidCell("required, but empty", zh="必填，但为空")
        return None
    return _phone_or_problem(cleaned, region, area_code)


def _phone_or_problem(cleaned: str, region: str, area_code: str | None) -> Phone:
    try:
        return _phone(cleaned, region)
    except InvalidPhone as error:
        local = _local_landline(cleaned, region)
        if local is None:
            reason = str(error)
            raise InvalidCell(
                f"{reason}: {cleaned!r}", zh=f"{_INVALID_PHONE_ZH.get(reason, reason)} “{cleaned}”"
            ) from None
    if area_code is None:
        raise InvalidCell(
            f"not a valid phone number: {cleaned!r} (a local landline needs its area code, e.g. 010-{local})",
            zh=f"不是有效的电话号码 “{cleaned}”（本地固话请加区号，如 010-{local}）",
        )
    try:
        return _phone(f"{area_code}{local}", region)
    except InvalidPhone:
        raise InvalidCell(
            f"not a valid phone number: {cleaned!r}, nor with the area code {area_code}",
            zh=f"不是有效的电话号码 “{cleaned}”，加上区号 {area_code} 也不是",
        ) from None


def _local_landline(text: str, region: str) -> str | None:
    """The digits of a Chinese landline written without its area code (7 or 8 digits, not starting 0, 1 or 9)."""
    if region != "CN":
        return None
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) in (7, 8) and digits.isascii() and digits.isdigit() and digits[0] in "2345678":
        return digits
    return None


def phones_cell(
    text: str, region: str, *, required: bool, area_code: str | None = None, most: int = 2
) -> tuple[Phone, ...]:
    """One or several numbers in one cell (`13800138000 / 13912345678`), each checked; the same number once."""
    if text.isdigit():  # nearly every cell (cells come stripped): one number, its parse cached
        return (_phone_or_problem(text, region, area_code),)
    parts = fields.split_phones(text)
    if len(parts) > most:
        raise InvalidCell(
            f"at most {most} phone numbers in one cell, not {len(parts)}",
            zh=f"一格最多填{most}个电话号码，这里有{len(parts)}个",
        )
    if not parts:
        return () if not required else (phone_cell("", region, required=True),)  # type: ignore[return-value]
    found = [phone_cell(part, region, required=True, area_code=area_code) for part in parts]
    return tuple(dict.fromkeys(phone for phone in found if phone is not None))


def id_card_external_id(masked: str, keyed_hash: str) -> str:
    """The key of an elder whose roster has no 编号: safe to show, unique, the same on every re-import."""
    return f"{masked}-{keyed_hash[:6]}"


def validate_elder(
    cells: list[str],
    columns: Columns,
    *,
    file: str,
    row: int,
    region: str,
    today: date,
    area_code: str | None = None,
    id_key: bytes = b"",
    scope: tuple[str, ...] = (),
) -> ElderRecord | list[RowProblem]:
    """`id_key`: the installation's key for ID-card hashes (needed when the roster has an ID-card column). `scope`:
    the names from the province down to the importer's own area; a row outside it is refused."""
    r = _Row(cells, columns, file=file, row=row)
    texts = r.texts
    id_card = r.parse("id_card", lambda t: fields.parse_id_card(t, today=today), None) if texts.get("id_card") else None
    if "id" in columns.index or "id_card" not in columns.index:
        external_id = r.required("id", max_length=_LENGTHS["id"])
    elif id_card is None:
        external_id = ""
        if not r.problems:  # no 编号 column: the ID-card number is the key
            r.problem("id_card", "required (the roster has no 编号 column)", "必填（名单没有编号列，身份证号码即编号）")
    name = r.required("name", max_length=_LENGTHS["name"])
    gender = r.parse("gender", fields.parse_gender, fields.Gender.UNKNOWN)
    birth = r.parse("birth_date", lambda t: fields.parse_birth(t, today=today), None)
    birth_date = birth[0] if birth else None
    phones = r.parse("phone", lambda t: phones_cell(t, region, required=False, area_code=area_code), ())
    address = r.optional("address", max_length=_LENGTHS["address"])
    areas = tuple(r.required(level, max_length=_LENGTHS["area"]) for level in AREA_FIELDS)
    if scope and all(areas) and areas[: len(scope)] != scope:
        level = next(n for n, (name, own) in enumerate(zip(areas, scope, strict=False)) if name != own)
        shown = "/".join(scope)
        r.problem(AREA_FIELDS[level], f"outside your area {shown}", f"不在你管辖的 {shown} 范围内")
    # the 行政区划代码 column (`area_code`, the parameter, is the dialling code for landlines)
    division_code = r.parse("area_code", lambda t: parse_area_code(t, province=areas[0]), "")
    classes, programmes = r.parse("classes", fields.parse_categories, (0, 0))
    risk = r.parse("risk", fields.parse_risk, fields.RiskLevel.LOW)
    consent = r.parse("consent", fields.parse_consent, False)
    notes = r.optional("notes", max_length=_LENGTHS["notes"])
    village_group = r.optional("village_group", max_length=_LENGTHS["area"])
    contacts = _contacts(r, region, area_code)
    status: ElderStatus | None = None
    notices: tuple[RowProblem, ...] = ()
    if notes:
        status = fields.status_in_notes(notes)
        programmes |= fields.programmes_in(notes)
        if status is not None:
            notices = (RowProblem(file, row, columns.label.get("notes", "notes"), *_STATUS_NOTICES[status]),)
    id_card_masked = id_card_hash = None
    if id_card is not None:
        gender, birth_date = _agree_with_id_card(r, id_card, gender, birth)
        id_card_masked, id_card_hash = id_card.masked, id_card.keyed_hash(id_key)
        if "id" not in columns.index:
            external_id = id_card_external_id(id_card_masked, id_card_hash)
    if r.problems:
        return r.problems
    phone = phones[0] if phones else None
    phone2 = phones[1] if len(phones) > 1 else None
    return ElderRecord(
        external_id=external_id,
        name=name,
        gender=gender,
        birth_date=birth_date,
        phone=phone.e164 if phone else None,
        phone_kind=phone.kind if phone else None,
        phone2=phone2.e164 if phone2 else None,
        phone2_kind=phone2.kind if phone2 else None,
        address=address,
        areas=areas,  # type: ignore[arg-type]
        classes=classes,
        programmes=programmes,
        risk=risk,
        consent=consent,
        notes=notes,
        status=status,
        id_card_masked=id_card_masked,
        id_card_hash=id_card_hash,
        village_group=village_group,
        contacts=contacts,
        area_code=division_code,
        notices=notices,
    )


_STATUS_NOTICES = {
    ElderStatus.DECEASED: (
        "says the elder has died: marked deceased, never planned again",
        "注明老人已去世：标记为已去世，不再安排探访",
    ),
    ElderStatus.MOVED: (
        "says the elder has moved away: marked moved, no more visits",
        "注明老人已搬离：标记为已搬离，不再安排探访",
    ),
    ElderStatus.PAUSED: (
        "says the elder is in hospital: visits paused until someone resumes them",
        "注明老人住院：暂停探访，出院后请恢复",
    ),
}


def _agree_with_id_card(
    r: _Row, id_card: fields.IdCard, gender: fields.Gender, birth: tuple[date, bool] | None
) -> tuple[fields.Gender, date | None]:
    """The ID card fills an empty gender or birth date; written ones must agree with it. The problem never names the
    birth date the number holds (the masked form hides it)."""
    if birth is not None:
        written, to_the_day = birth
        agrees = written == id_card.birth_date if to_the_day else written == id_card.birth_date.replace(day=1)
        if not agrees:
            r.problem(
                "birth_date",
                "does not match the birth date in the ID-card number",
                "与身份证号码中的出生日期不一致",
            )
    if gender is not fields.Gender.UNKNOWN and gender is not id_card.gender:
        as_zh = "男" if id_card.gender is fields.Gender.MALE else "女"
        r.problem(
            "gender",
            f"does not match the ID-card number (its 17th digit says {id_card.gender.value})",
            f"与身份证号码不一致（身份证号码第17位表示{as_zh}）",
        )
    return id_card.gender, id_card.birth_date


def _contacts(r: _Row, region: str, area_code: str | None) -> tuple[ContactRecord, ...]:
    """Filled contact groups in column order; a group with a name needs a phone and the other way round. A second
    number in a contact's cell (`138… / 139…`) is that person again, as the next contact paged."""
    contacts: list[ContactRecord] = []
    for group in r.columns.contacts:
        name_key, relation_key, phone_key = _contact_keys(group.number)
        if not (r.text(name_key) or r.text(phone_key) or r.text(relation_key)):  # an empty group: fewer contacts
            continue
        name = r.required(name_key, max_length=_LENGTHS["name"])
        relation = r.optional(relation_key, max_length=_LENGTHS["relation"])
        no_phones: tuple[Phone, ...] = ()
        phones = r.parse(phone_key, lambda t: phones_cell(t, region, required=True, area_code=area_code), no_phones)
        sms = r.parse(f"contact{group.number}_sms", _opt_in, None)
        if name:
            for phone in phones:
                contacts.append(ContactRecord(name, relation, phone.e164, phone.kind, sms))
    return tuple(contacts)


def _opt_in(text: str) -> bool | None:
    """短信通知N: 是/否 sets the contact's family visit reports; empty leaves them as they are."""
    if not text.strip():
        return None
    try:
        return fields.parse_consent(text)
    except InvalidCell:
        raise InvalidCell(f"must be 是/否 or yes/no, not {text!r}") from None


@cache
def _contact_keys(number: int) -> tuple[str, str, str]:
    return f"contact{number}_name", f"contact{number}_relation", f"contact{number}_phone"


class CommunityLookup:
    """Community names → ids, for volunteers' 服务社区. `街道/社区` tells apart communities with the same name."""

    def __init__(self, communities: Mapping[int, tuple[str, str]], *, allowed: frozenset[int] | None = None) -> None:
        # id → (street name, community name); `allowed`: the importer's own communities, when they are limited
        self._allowed = allowed
        self._by_name: dict[str, list[int]] = {}
        self._by_street: dict[tuple[str, str], int] = {}
        for area_id, (street, name) in communities.items():
            self._by_name.setdefault(name, []).append(area_id)
            self._by_street[(street, name)] = area_id

    def resolve(self, text: str) -> int:
        area_id = self._resolve(text)
        if self._allowed is not None and area_id not in self._allowed:
            raise InvalidCell(f"community {text!r} is outside your area", zh=f"社区“{text}”不在你的管辖范围内")
        return area_id

    def _resolve(self, text: str) -> int:
        if "/" in text:
            street, _, name = text.rpartition("/")
            street = street.rpartition("/")[2]
            area_id = self._by_street.get((street.strip(), name.strip()))
            if area_id is None:
                raise InvalidCell(f"no community {name.strip()!r} in street {street.strip()!r}")
            return area_id
        found = self._by_name.get(text, [])
        if not found:
            raise InvalidCell(f"no community named {text!r}; import the elders of that community first")
        if len(found) > 1:
            raise InvalidCell(f"{len(found)} communities are named {text!r}: write it as 街道/{text}")
        return found[0]


def validate_volunteer(
    cells: list[str], columns: Columns, *, file: str, row: int, region: str, communities: CommunityLookup
) -> VolunteerRecord | list[RowProblem]:
    r = _Row(cells, columns, file=file, row=row)
    external_id = r.parse("id", lambda t: fields.required_text(t, max_length=_LENGTHS["id"]), "")
    name = r.parse("name", lambda t: fields.required_text(t, max_length=_LENGTHS["name"]), "")
    phone = r.parse("phone", lambda t: phone_cell(t, region, required=True), None)
    organisation = r.parse("organization", lambda t: fields.optional_text(t, max_length=_LENGTHS["organisation"]), "")
    kind = r.parse("kind", fields.parse_kind, fields.VolunteerKind.VOLUNTEER)
    no_ids: tuple[int, ...] = ()
    community_ids = r.parse("communities", lambda t: _community_ids(t, communities), no_ids)
    capacity = r.parse("capacity", fields.parse_capacity, 0)
    if r.problems or phone is None:
        return r.problems
    return VolunteerRecord(
        external_id=external_id,
        name=name,
        phone=phone.e164,
        phone_kind=phone.kind,
        organisation=organisation or None,
        kind=kind,
        community_ids=community_ids,
        capacity=capacity,
    )


def _community_ids(text: str, communities: CommunityLookup) -> tuple[int, ...]:
    names = fields.split_list(text)
    if not names:
        raise InvalidCell("at least one community is required")
    return tuple(dict.fromkeys(communities.resolve(name) for name in names))
