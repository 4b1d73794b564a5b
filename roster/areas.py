"""Finding the community of a roster row by its names, creating missing areas of the hierarchy on the way.

Areas are matched by (parent, level, name). A new area gets a code extending its parent's, in the widths of the
national administrative division codes (GB/T 2260 and the statistics codes: 44 / 4403 / 440305 / 440305001 /
440305001001); a new province gets its national code when the name is a known province.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from carevisit.care.areas import child_path
from carevisit.roster.bulk import table_of
from carevisit.storage.enums import AreaLevel
from carevisit.storage.models import Area

_AREAS = table_of(Area)
_LEVELS = (AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)
_SUFFIX_WIDTH = {AreaLevel.CITY: 2, AreaLevel.DISTRICT: 2, AreaLevel.STREET: 3, AreaLevel.COMMUNITY: 3}

PROVINCE_CODES = {
    "北京": "11", "天津": "12", "河北": "13", "山西": "14", "内蒙古": "15", "辽宁": "21", "吉林": "22",
    "黑龙江": "23", "上海": "31", "江苏": "32", "浙江": "33", "安徽": "34", "福建": "35", "江西": "36", "山东": "37",
    "河南": "41", "湖北": "42", "湖南": "43", "广东": "44", "广西": "45", "海南": "46", "重庆": "50", "四川": "51",
    "贵州": "52", "云南": "53", "西藏": "54", "陕西": "61", "甘肃": "62", "青海": "63", "宁夏": "64", "新疆": "65",
    "台湾": "71", "香港": "81", "澳门": "82",
}  # fmt: skip
_PROVINCE_SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区")


def province_code(name: str) -> str | None:
    for suffix in sorted(_PROVINCE_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and name != suffix:
            name = name.removesuffix(suffix)
            break
    return PROVINCE_CODES.get(name)


class AreaIndex:
    """Every area, in memory (a whole country has well under a million): resolves names, creates what is missing."""

    def __init__(self, areas: list[Area]) -> None:
        self._by_key: dict[tuple[int | None, AreaLevel, str], Area] = {}
        self._codes: set[str] = set()
        self._children: dict[int | None, list[str]] = {}
        self._communities: dict[tuple[str, ...], int] = {}  # names → id, as resolved so far
        self.created = 0
        for area in areas:
            self._remember(area)

    @classmethod
    async def load(cls, connection: AsyncConnection) -> AreaIndex:
        result = await connection.execute(select(_AREAS))
        return cls([Area.model_validate(dict(row._mapping)) for row in result])

    def communities(self) -> dict[int, tuple[str, str]]:
        """Community id → (street name, community name), for volunteers' 服务社区."""
        by_id = {area.id: area for area in self._by_key.values()}
        return {
            area.id: (by_id[area.parent_id].name if area.parent_id in by_id else "", area.name)
            for area in by_id.values()
            if area.level == AreaLevel.COMMUNITY and area.id is not None
        }

    def known_community_id(self, names: tuple[str, ...]) -> int | None:
        """The community's id when it was resolved before: no await for the million rows of a few thousand places."""
        return self._communities.get(names)

    async def community_id(self, connection: AsyncConnection, names: tuple[str, ...]) -> int:
        """The community at the end of the province > city > district > street > community names."""
        known = self._communities.get(names)
        if known is not None:
            return known
        parent: Area | None = None
        for level, name in zip(_LEVELS, names, strict=True):
            area = self._by_key.get((parent.id if parent else None, level, name))
            if area is None:
                area = await self._create(connection, parent, level, name)
            parent = area
        assert parent is not None and parent.id is not None
        self._communities[names] = parent.id
        return parent.id

    async def _create(self, connection: AsyncConnection, parent: Area | None, level: AreaLevel, name: str) -> Area:
        code = self._new_code(parent, level, name)
        area = Area(
            code=code, name=name, level=level, parent_id=parent.id if parent else None, path=child_path(parent, code)
        )
        values = area.model_dump(exclude={"id"})
        area.id = (await connection.execute(insert(_AREAS).values(values).returning(_AREAS.c.id))).scalar_one()
        self._remember(area)
        self.created += 1
        return area

    def _new_code(self, parent: Area | None, level: AreaLevel, name: str) -> str:
        if parent is None:
            known = province_code(name)
            if known and known not in self._codes:
                return known
            prefix, width = "P", 2
        else:
            prefix, width = parent.code, _SUFFIX_WIDTH[level]
        siblings = self._children.get(parent.id if parent else None, [])
        numbers = [
            int(code[len(prefix) :]) for code in siblings if code.startswith(prefix) and code[len(prefix) :].isdigit()
        ]
        number = max(numbers, default=0) + 1
        while (code := f"{prefix}{number:0{width}d}") in self._codes:
            number += 1
        return code

    def _remember(self, area: Area) -> None:
        self._by_key[(area.parent_id, AreaLevel(area.level), area.name)] = area
        self._codes.add(area.code)
        self._children.setdefault(area.parent_id, []).append(area.code)
