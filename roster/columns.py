"""Roster headers, Chinese or English, mapped to the fields they hold.

A header is a list of `HeaderCell`s: its text, and in a two-row header the group text above it (类别 over 独居 空巢 …,
紧急联系人 over 姓名 关系 电话). Real registration forms name the same field in many ways (身份证号码, 公民身份号码);
every synonym maps to one field. A header we do not know is an error, never silently skipped: a misspelt 电话 column
must not drop every phone. Columns the programme does not use (序号, 户主, …) are ignored with a notice, so the
coordinator sees that they were read and set aside. Every column is named with its Excel letter: H列（联系电话）.

Cells are cleaned here (`Columns.read`), in the validating processes: invisible characters (C0 controls, NUL, DEL,
zero-width spaces, bidi overrides U+202A–202E and U+2066–2069) make an id or a name refused (they hide what it says:
"王秀英" and "王秀英" plus a zero-width space would be two elders), and are stripped from every other cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from carevisit.roster import fields
from carevisit.roster.problems import InvalidCell, RosterFileError

ELDER_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "id", "老人编号", "人员编号", "档案编号", "对象编号"),
    "name": ("姓名", "name", "老人姓名", "服务对象姓名", "对象姓名"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birth_date", "出生年月", "出生年月日", "出生时间"),
    "phone": ("电话", "phone", "联系电话", "手机", "手机号", "手机号码", "本人电话", "本人联系电话", "本人手机",
              "老人电话", "老人联系电话", "电话号码", "联系方式", "固定电话"),
    "address": ("地址", "address", "家庭住址", "现住址", "居住地址", "住址", "家庭地址", "详细地址", "现居住地址",
                "现居住地"),
    "province": ("省", "province", "省份", "省(区、市)", "省(自治区、直辖市)"),
    "city": ("市", "city", "地市", "市(州)", "地级市"),
    "district": ("区县", "district", "区", "县", "区(县)", "县(区)", "县(市、区)", "县(市区)", "区(县、市)"),
    "street": ("街道", "street", "乡镇", "镇", "乡", "街道(乡镇)", "乡镇(街道)", "街道/乡镇", "乡镇/街道", "所属街道"),
    "community": ("社区", "community", "所属社区", "村(居)", "社区(村)", "村(社区)", "村/社区", "社区/村", "村居",
                  "居委会", "村委会", "村(居)委会", "所属村(居)", "所属村(社区)", "村"),
    "classes": ("类别", "classes", "老人类别", "人员类别", "对象类别", "困难类别", "服务对象类别", "特殊困难类别",
                "老人类型", "人员类型", "困难类型"),
    "risk": ("风险等级", "risk", "探访频次", "风险", "风险级别", "关爱等级"),
    "consent": ("是否同意", "consent", "是否同意探访", "同意探访", "本人是否同意"),
    "notes": ("备注", "notes", "备注说明", "情况说明"),
    # the community's national code (or an area's above it), when the roster has it
    "area_code": ("行政区划代码", "area_code", "区划代码"),
    "id_card": ("身份证号码", "id_card", "公民身份号码", "身份证号", "身份证", "身份证件号码", "证件号码"),
    "village_group": ("村民小组", "village_group", "小组", "组别", "所属小组"),
    "age": ("年龄", "age", "周岁"),
    "household_head": ("户主", "household_head", "户主姓名"),
    "household_relation": ("与户主关系", "household_relation"),
}  # fmt: skip
ELDER_REQUIRED = ("id", "name", "province", "city", "district", "street", "community", "classes", "risk", "consent")
AREA_FIELDS = ("province", "city", "district", "street", "community")
# Read and passed on, but nothing stores them yet: each such column gets a notice. A field leaves this set when a
# column of the elders table holds it.
NOT_STORED = frozenset({"age", "household_head", "household_relation"})
# Columns of real forms that carry nothing for the programme: ignored with a notice.
IGNORED_COLUMNS = ("序号", "序", "no", "no.", "编码序号", "顺序号")
# Tick columns forms keep for classes the visit policy does not plan by: set aside with a notice, not refused.
_UNPLANNED_CLASSES = frozenset({"孤寡", "半失能", "残疾", "重病", "大病", "困难", "其他"})
# Cells refused (not cleaned) when they hold invisible characters.
_GUARDED = ("id", "name", "id_card")

VOLUNTEER_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "id", "志愿者编号"),
    "name": ("姓名", "name"),
    "phone": ("电话", "phone", "联系电话", "手机", "手机号码"),
    "organization": ("所属组织", "organization", "organisation", "组织", "所属单位"),
    "kind": ("类型", "kind", "人员类型"),
    "communities": ("服务社区", "communities"),
    "capacity": ("每月上限", "capacity"),
}
VOLUNTEER_REQUIRED = ("id", "name", "phone", "communities")

# Repeated emergency-contact groups: 紧急联系人1/关系1/联系电话1 or contact1_name/contact1_relation/contact1_phone.
_CONTACT_PATTERNS = (
    (re.compile(r"^紧急联系人(\d{1,2})$"), "name"),
    (re.compile(r"^关系(\d{1,2})$"), "relation"),
    (re.compile(r"^联系电话(\d{1,2})$"), "phone"),
    (re.compile(r"^短信通知(\d{1,2})$"), "sms"),  # 是/否: family visit reports by SMS
    (re.compile(r"^contact(\d{1,2})_(name|relation|phone|sms)$"), ""),
)
CONTACT_LABELS = {
    "name": "紧急联系人{n}/contact{n}_name",
    "relation": "关系{n}/contact{n}_relation",
    "phone": "联系电话{n}/contact{n}_phone",
    "sms": "短信通知{n}/contact{n}_sms",
}
# Contacts as real forms name them: 监护人姓名, 赡养人电话, 子女1联系电话, or a group 紧急联系人 over 姓名/关系/电话.
_ROLES = "紧急联系人|联系人|监护人|赡养人|扶养人|子女|家属|亲属"
_PARTS = {
    "name": ("姓名", "名字", "name"),
    "relation": ("关系", "与老人关系", "与本人关系", "与服务对象关系", "与其关系", "relation"),
    "phone": ("电话", "联系电话", "手机", "手机号", "手机号码", "联系方式", "电话号码", "phone"),
    "sms": ("短信通知", "是否短信通知", "sms"),
}
_PART_OF = {word: part for part, words in _PARTS.items() for word in words}
_NAMED_CONTACT = re.compile(
    rf"^(?P<role>{_ROLES})(?P<number>\d{{0,2}})的?(?P<part>{'|'.join(sorted(_PART_OF, key=len, reverse=True))})?$"
)
_CONTACT_GROUP_NOISE = re.compile(r"[()/、\s\d]|信息|情况|或|及|和")
_ROLE_WORDS = re.compile(rf"^(?:{_ROLES})+$")
_CLASS_GROUP = re.compile(r"(类别|类型|classes)$")

# Tick columns: one per class, ticked or left empty.
_TICKED = frozenset({"√", "✓", "✔", "☑", "●", "■", "★", "是", "有", "1", "y", "yes", "true", "v"})
_NOT_TICKED = frozenset({"", "×", "✗", "✘", "否", "无", "0", "n", "no", "false", "○", "/", "-", "—", "－", "\\"})

# Invisible characters: C0 controls, DEL, zero-width spaces and joiners, bidi marks, embeddings and overrides.
_INVISIBLE = re.compile("[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_LINE_BREAKS = re.compile("[\t\n\r]+")


@dataclass(frozen=True)
class HeaderCell:
    """One column's header: in a two-row header, `group` is the merged text above `name`."""

    position: int
    name: str
    group: str = ""

    @property
    def text(self) -> str:
        return f"{self.group}/{self.name}" if self.group and self.group != self.name else self.name


def column_letter(position: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the column as Excel names it."""
    letters = ""
    number = position + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def column_ref(position: int, text: str) -> str:
    return f"{column_letter(position)}列（{text}）" if text else f"{column_letter(position)}列（空表头）"


@dataclass(frozen=True)
class ContactColumns:
    number: int
    name: int
    phone: int
    relation: int | None
    sms: int | None = None


@dataclass(frozen=True)
class Tick:
    position: int
    klass: str  # the class as `fields.parse_classes` reads it
    key: str  # the label key naming the column in problems


@dataclass(frozen=True)
class Columns:
    """Where each field sits in a row, and the header text to name in error messages."""

    index: dict[str, int]
    label: dict[str, str]
    contacts: list[ContactColumns] = field(default_factory=list)
    ticks: tuple[Tick, ...] = ()
    defaults: dict[str, str] = field(default_factory=dict)  # a field's text where the cell is empty or absent
    letters: dict[str, str] = field(default_factory=dict)  # field → its Excel column letter
    notices: tuple[str, ...] = ()  # columns read and set aside, said once per sheet
    understood: tuple[tuple[str, str], ...] = ()  # (column, what it was read as), for a dry run to show

    def position_of(self, name: str) -> int | None:
        """Where a field (or a tick column) sits in the row, for its Excel letter."""
        if name in self.index:
            return self.index[name]
        return next((tick.position for tick in self.ticks if tick.key == name), None)

    def texts(self, cells: list[str]) -> dict[str, str]:
        """Every known field's cell, stripped and cleaned, at once (a short row: the missing cells are empty)."""
        return self.read(cells)[0]

    def read(self, cells: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
        """Every known field's text, and the problems found in the cells themselves: (field, reason)."""
        count = len(cells)
        texts = {name: cells[position].strip() if position < count else "" for name, position in self.index.items()}
        # isprintable() is false for every invisible character (and for some harmless ones, such as U+3000, whose rows
        # then take the longer path): a third of the cost of searching for them.
        if not self.defaults and not self.ticks and "".join(cells).isprintable():
            return texts, []  # nearly every row of a roster in our own layout
        problems: list[tuple[str, str]] = []
        for name, text in texts.items():
            if _INVISIBLE.search(text):
                texts[name] = _clean(name, text, problems)
        for name, default in self.defaults.items():
            if not texts.get(name):
                texts[name] = default
        if self.ticks:
            ticked = [texts["classes"]] if texts.get("classes") else []
            for tick in self.ticks:
                mark = _INVISIBLE.sub("", cells[tick.position]).strip().lower() if tick.position < count else ""
                if mark in _TICKED:
                    ticked.append(tick.klass)
                elif mark not in _NOT_TICKED:
                    problems.append((tick.key, f"not a tick: {mark!r} (√ ✓ ● 是 1 Y for yes; empty, × or 否 for no)"))
            texts["classes"] = "、".join(ticked)
        return texts, problems

    def cell(self, cells: list[str], name: str) -> str:
        position = self.index.get(name)
        if position is None or position >= len(cells):
            return ""
        return cells[position].strip()


def _clean(name: str, text: str, problems: list[tuple[str, str]]) -> str:
    if name in _GUARDED or (name.startswith("contact") and name.endswith("_name")):
        found = sorted({f"U+{ord(c):04X}" for c in _INVISIBLE.findall(text)})
        problems.append((name, f"contains invisible control characters ({', '.join(found)}); type the cell again"))
        return text
    return _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text)).strip()


_SPACES = re.compile(r"\s+")
_CJK = re.compile("[\u4e00-\u9fff]")


def _normalise(header: str) -> str:
    """One key for the ways a header is written: 姓  名, 姓名*, 村（居）, "birth date"."""
    text = header.replace("\ufeff", "").strip().strip("*＊").strip().lower()
    text = text.replace("（", "(").replace("）", ")").replace("：", "").replace(":", "")
    if _CJK.search(text):
        return _SPACES.sub("", text)
    return _SPACES.sub("_", text)


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_normalise(alias): name for name, aliases in table.items() for alias in aliases}


_ELDER_LOOKUP = _lookup(ELDER_FIELDS)
_VOLUNTEER_LOOKUP = _lookup(VOLUNTEER_FIELDS)
_IGNORED = frozenset(_normalise(name) for name in IGNORED_COLUMNS)


def _class_of(key: str) -> str | None:
    """A header naming one class (独居, 是否独居): the class, else None."""
    key = key.removeprefix("是否")
    try:
        fields.parse_classes(key)
    except InvalidCell:
        return None
    return key if " " not in key and "、" not in key else None


def _contact_group(key: str) -> tuple[str, int] | None:
    """A group header naming a contact (紧急联系人, 监护人（赡养人）信息, 子女2): (role, number or 0)."""
    bare = _CONTACT_GROUP_NOISE.sub("", key)
    if not bare or not _ROLE_WORDS.match(bare):
        return None
    digits = re.search(r"\d{1,2}", key)
    return bare, int(digits.group()) if digits else 0


def header_score(cells: Sequence[str], *, elders: bool = True) -> int:
    """How many cells read as headers we know: the header row is the row that scores most."""
    lookup = _ELDER_LOOKUP if elders else _VOLUNTEER_LOOKUP
    score = 0
    for cell in cells:
        key = _normalise(cell)
        if not key:
            continue
        if (
            key in lookup
            or key in _IGNORED
            or (elders and (_contact_part(key) or _named_contact(key) or _class_of(key) or _contact_group(key)))
            or (elders and key in _PART_OF)
        ):
            score += 1
    return score


def is_header_word(cell: str) -> bool:
    """A cell that reads as a header (a field, a class, a contact part): a second header row is made of them."""
    key = _normalise(cell)
    return bool(
        key in _ELDER_LOOKUP
        or key in _IGNORED
        or key in _PART_OF
        or _class_of(key)
        or _contact_part(key)
        or _named_contact(key)
    )


def is_group_word(cell: str) -> bool:
    """A header that groups the columns under it: 类别, 紧急联系人, 监护人信息."""
    key = _normalise(cell)
    return bool(_CLASS_GROUP.search(key) or _contact_group(key))


class _Mapping:
    """Header cells → fields, collecting every problem of the header so they are reported together."""

    def __init__(self, header: Sequence[str | HeaderCell], lookup: dict[str, str], *, contacts: bool) -> None:
        self.cells = [cell if isinstance(cell, HeaderCell) else HeaderCell(n, cell) for n, cell in enumerate(header)]
        self.lookup = lookup
        self.contacts_wanted = contacts
        self.index: dict[str, int] = {}
        self.label: dict[str, str] = {}
        self.letters: dict[str, str] = {}
        self.unknown: list[str] = []
        self.twice: list[str] = []
        self.notices: list[str] = []
        self.understood: list[tuple[str, str]] = []
        self.ticks: list[Tick] = []
        self.groups: dict[tuple[str, int], dict[str, int]] = {}  # (role or "#", number) → part → position
        self.group_texts: dict[tuple[str, int], str] = {}
        self.last_group: tuple[str, int] | None = None
        for cell in self.cells:
            self._one(cell)

    def _ref(self, cell: HeaderCell) -> str:
        return column_ref(cell.position, cell.text)

    def _one(self, cell: HeaderCell) -> None:
        key = _normalise(cell.name)
        group = _normalise(cell.group) if cell.group and cell.group != cell.name else ""
        if not key:
            self.unknown.append(self._ref(cell))
            return
        if group and self.contacts_wanted:
            if _CLASS_GROUP.search(group) or self.lookup.get(group) == "classes":
                klass = _class_of(key)
                if klass is None:
                    self.notices.append(f"{self._ref(cell)}: not a class visits are planned by; ignored")
                    self.understood.append((self._ref(cell), "(ignored)"))
                else:
                    self._tick(cell, klass)
                return
            role = _contact_group(group)
            if role is not None and key in _PART_OF:
                self._contact(cell, role, _PART_OF[key])
                return
            # A group we do not know (基本信息): the column is read by its own name.
        if key in _IGNORED:
            self.notices.append(f"{self._ref(cell)}: not used; ignored")
            self.understood.append((self._ref(cell), "(ignored)"))
            return
        name = self.lookup.get(key)
        if name is not None:
            self._field(cell, name)
            return
        if self.contacts_wanted:
            legacy = _contact_part(key)
            if legacy is not None:
                self._contact(cell, ("#", legacy[0]), legacy[1])
                return
            named = _named_contact(key)
            if named is not None:
                self._contact(cell, *named)
                return
            last = self.last_group
            if key in _PARTS["relation"] and last is not None and "relation" not in self.groups[last]:
                self._contact(cell, last, "relation")  # 监护人姓名 | 与老人关系 | 监护人电话
                return
            klass = _class_of(key)
            if klass is not None:
                self._tick(cell, klass)
                return
            if key.removeprefix("是否") in _UNPLANNED_CLASSES:
                self.notices.append(f"{self._ref(cell)}: not a class visits are planned by; ignored")
                self.understood.append((self._ref(cell), "(ignored)"))
                return
        self.unknown.append(self._ref(cell))

    def _field(self, cell: HeaderCell, name: str) -> None:
        if name in self.index:
            first = self.index[name]
            self.twice.append(
                f"{cell.text!r} appears twice ({column_letter(first)}列, {column_letter(cell.position)}列)"
            )
            return
        self.index[name] = cell.position
        self.label[name] = cell.text
        self.letters[name] = column_letter(cell.position)
        self.understood.append((self._ref(cell), name))

    def _tick(self, cell: HeaderCell, klass: str) -> None:
        tick_key = f"tick:{klass}"
        if any(tick.klass == klass for tick in self.ticks):
            self.twice.append(f"{cell.text!r} appears twice (as a class; {column_letter(cell.position)}列)")
            return
        self.ticks.append(Tick(cell.position, klass, tick_key))
        self.label[tick_key] = cell.text
        self.letters[tick_key] = column_letter(cell.position)
        self.understood.append((self._ref(cell), f"classes: {klass} when ticked"))

    def _contact(self, cell: HeaderCell, group: tuple[str, int], part: str) -> None:
        parts = self.groups.setdefault(group, {})
        self.group_texts.setdefault(group, cell.group or cell.name)
        self.last_group = group
        if part in parts:
            self.twice.append(f"{cell.text!r} appears twice ({column_letter(cell.position)}列)")
            return
        parts[part] = cell.position

    def contact_columns(self, problems: list[str]) -> list[ContactColumns]:
        numbered = [number for role, number in self.groups if role == "#"]
        next_number = max(numbered, default=0) + 1
        numbers: dict[tuple[str, int], int] = {}
        for group in sorted(self.groups, key=lambda g: min(self.groups[g].values())):
            # 紧急联系人1/关系1/联系电话1 keep their number; named groups (监护人, 子女2) follow in column order.
            if group[0] == "#":
                numbers[group] = group[1]
            else:
                numbers[group] = next_number
                next_number += 1
        contacts = []
        for group, number in sorted(numbers.items(), key=lambda item: item[1]):
            parts = self.groups[group]
            missing = [part for part in ("name", "phone") if part not in parts]
            if missing:
                if group[0] == "#":
                    labels = [CONTACT_LABELS[part].format(n=number) for part in missing]
                    problems.append(f"emergency contact {number} needs the column(s) {', '.join(labels)}")
                else:
                    words = "/".join(_PARTS[part][0] for part in missing)
                    problems.append(f"the contact {self.group_texts[group]} needs a {words} column too")
                continue
            contacts.append(
                ContactColumns(number, parts["name"], parts["phone"], parts.get("relation"), parts.get("sms"))
            )
            for part, position in parts.items():
                key = f"contact{number}_{part}"
                self.index[key] = position
                self.label[key] = self.cells_by_position[position].text
                self.letters[key] = column_letter(position)
                self.understood.append((column_ref(position, self.label[key]), key))
        return contacts

    @property
    def cells_by_position(self) -> dict[int, HeaderCell]:
        return {cell.position: cell for cell in self.cells}


def elder_columns(
    header: Sequence[str | HeaderCell], file: str, *, defaults: dict[str, str] | None = None, where: str = ""
) -> Columns:
    """The elders' columns; every problem of the header (unknown, missing, twice) in one RosterFileError.

    `defaults` are area names the form gives outside its rows (its title, its sheet's name); `where` names the
    sheet in messages.
    """
    defaults = {name: value for name, value in (defaults or {}).items() if value}
    mapping = _Mapping(header, _ELDER_LOOKUP, contacts=True)
    problems: list[str] = []
    contacts = mapping.contact_columns(problems)
    index, label = mapping.index, mapping.label
    if "classes" not in index and mapping.ticks:
        label["classes"] = "/".join(label[tick.key] for tick in mapping.ticks)
    notices = list(mapping.notices)
    for name in sorted(NOT_STORED & index.keys(), key=index.__getitem__):
        ref = column_ref(index[name], label[name])
        if name == "age" and ("birth_date" in index or "id_card" in index):
            notices.append(f"{ref}: ignored, the birth date says it")
        else:
            notices.append(f"{ref}: read, not stored")
    present = set(index) | set(defaults) | ({"classes"} if mapping.ticks else set())
    if "id_card" in index:
        present.add("id")  # without a 编号 the ID-card number is the elder's key (kept only masked and hashed)
    _report(file, where, mapping, problems, [name for name in ELDER_REQUIRED if name not in present], ELDER_FIELDS)
    return Columns(
        index=index,
        label=label,
        contacts=contacts,
        ticks=tuple(mapping.ticks),
        defaults={name: value for name, value in defaults.items() if name in AREA_FIELDS},
        letters=mapping.letters,
        notices=tuple(notices),
        understood=tuple(mapping.understood),
    )


def volunteer_columns(header: Sequence[str | HeaderCell], file: str, *, where: str = "", **_: object) -> Columns:
    mapping = _Mapping(header, _VOLUNTEER_LOOKUP, contacts=False)
    problems: list[str] = []
    missing = [name for name in VOLUNTEER_REQUIRED if name not in mapping.index]
    _report(file, where, mapping, problems, missing, VOLUNTEER_FIELDS)
    return Columns(
        index=mapping.index,
        label=mapping.label,
        letters=mapping.letters,
        notices=tuple(mapping.notices),
        understood=tuple(mapping.understood),
    )


def _contact_part(key: str) -> tuple[int, str] | None:
    for pattern, part in _CONTACT_PATTERNS:
        match = pattern.match(key)
        if match:
            return int(match.group(1)), part or match.group(2)
    return None


def _named_contact(key: str) -> tuple[tuple[str, int], str] | None:
    """监护人姓名, 子女1电话, 赡养人: ((role, number), part); a role alone is the contact's name."""
    match = _NAMED_CONTACT.match(key)
    if match is None:
        return None
    number = int(match["number"]) if match["number"] else 0
    part = _PART_OF[match["part"]] if match["part"] else "name"
    return (("#", number) if number else (match["role"], 0)), part


def _report(
    file: str,
    where: str,
    mapping: _Mapping,
    problems: list[str],
    missing: list[str],
    table: dict[str, tuple[str, ...]],
) -> None:
    """Unknown, missing and doubled columns, together in one message."""
    reasons = []
    if mapping.unknown:
        reasons.append(f"unknown column(s) {', '.join(mapping.unknown)}")
    if missing:
        names = ", ".join("/".join(table[name][:2]) for name in missing)
        hint = ""
        if set(missing) & set(AREA_FIELDS):
            hint = " (the areas may also be named by the title, as in XX市XX区XX街道XX社区…登记表, or the sheet's name)"
        reasons.append(f"missing column(s): {names}{hint}")
    for twice in mapping.twice:
        reasons.append(f"the column {twice}")
    reasons.extend(problems)
    if reasons:
        known = ", ".join("/".join(aliases[:2]) for aliases in table.values())
        if table is ELDER_FIELDS:
            known += (
                ", 紧急联系人N/contactN_name, 关系N/contactN_relation, 联系电话N/contactN_phone, 短信通知N/contactN_sms"
            )
        tail = f"; the columns are: {known}" if mapping.unknown else ""
        raise RosterFileError(file, f"{where}{'; '.join(reasons)}{tail}")
