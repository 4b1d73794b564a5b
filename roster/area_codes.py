"""National administrative division codes (行政区划代码: GB/T 2260 to the district, the statistics codes below):
44 / 4403 / 440305 / 440305001 / 440305001001, one width per level. Pure: used while rows are validated.

A code from the roster is only taken when its shape is right; codes we make up ourselves are never digits
(`areas.local_code`), so nobody mistakes one for a national code.
"""

from __future__ import annotations

import re

from carevisit.roster.problems import InvalidCell

# province, city, district, street, community
WIDTHS = (2, 4, 6, 9, 12)

PROVINCE_CODES = {
    "北京": "11", "天津": "12", "河北": "13", "山西": "14", "内蒙古": "15", "辽宁": "21", "吉林": "22",
    "黑龙江": "23", "上海": "31", "江苏": "32", "浙江": "33", "安徽": "34", "福建": "35", "江西": "36", "山东": "37",
    "河南": "41", "湖北": "42", "湖南": "43", "广东": "44", "广西": "45", "海南": "46", "重庆": "50", "四川": "51",
    "贵州": "52", "云南": "53", "西藏": "54", "陕西": "61", "甘肃": "62", "青海": "63", "宁夏": "64", "新疆": "65",
    "台湾": "71", "香港": "81", "澳门": "82",
}  # fmt: skip
_PROVINCE_SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区")
_DIGITS = re.compile(r"^\d+$")


def province_code(name: str) -> str | None:
    for suffix in sorted(_PROVINCE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and name != suffix:
            name = name.removesuffix(suffix)
            break
    return PROVINCE_CODES.get(name)


def is_national(code: str) -> bool:
    return bool(_DIGITS.match(code)) and len(code) in WIDTHS


def parse_area_code(text: str, *, province: str) -> str:
    """A roster's 行政区划代码 (of the row's community, or of an area above it): 2, 4, 6, 9 or 12 digits, whose first
    two are the row's province. Empty → "" (the codes are made up)."""
    code = text.strip().replace(" ", "")
    if not code:
        return ""
    if not _DIGITS.match(code) or len(code) not in WIDTHS:
        raise InvalidCell(f"an area code has 2, 4, 6, 9 or 12 digits (440305001001), not {text.strip()!r}")
    expected = province_code(province)
    if code[:2] not in PROVINCE_CODES.values() or (expected is not None and code[:2] != expected):
        raise InvalidCell(f"area code {code!r} is not in {province}")
    return code
