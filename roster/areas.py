"""Finding the community of a roster row by its names, creating missing areas of the hierarchy on the way.

Areas are matched by (parent, level, name). A new area takes its national code (行政区划代码) when the roster gives
one (a 12-digit community code names every level above it too: 440305001001 → 44, 4403, 440305, 440305001) and a
new province its national code when its name is a known province. Otherwise the code is visibly ours: `X` and a
number (X0001), never digits that could be mistaken for, or collide with, a national code — an earlier version
extended the parent's code (深圳市 became 4401, which is Guangzhou's). Codes already stored are left as they are.
"""

from __future__ import annotations

import re

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from carevisit.care.areas import child_path
from carevisit.roster.area_codes import WIDTHS, is_national, province_code
from carevisit.roster.bulk import table_of
from carevisit.storage.enums import AreaLevel
from carevisit.storage.models import Area

_AREAS = table_of(Area)
_LEVELS = (AreaLevel.PROVINCE, AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)
_WIDTH = dict(zip(_LEVELS, WIDTHS, strict=True))
_LOCAL = re.compile(r"^X(\d+)$")

__all__ = ["AreaCodeConflict", "AreaIndex", "local_code", "province_code"]


def local_code(number: int) -> str:
    """A code of our own: X0001, X0002, … (no national code starts with a letter)."""
    return f"X{number:04d}"


class AreaCodeConflict(ValueError):
    """A roster's 行政区划代码 disagrees with the areas already known; the message says how."""


class AreaIndex:
    """Every area, in memory (a whole country has well under a million): resolves names, creates what is missing."""

    def __init__(self, areas: list[Area]) -> None:
        self._by_key: dict[tuple[int | None, AreaLevel, str], Area] = {}
        self._codes: set[str] = set()
        self._communities: dict[tuple[str, ...], int] = {}  # names → id, as resolved so far
        self._last_local = 0
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

    async def community_id(self, connection: AsyncConnection, names: tuple[str, ...], code: str = "") -> int:
        """The community at the end of the province > city > district > street > community names. `code`: a national
        code (checked for its shape) of the community or of an area above it; raises AreaCodeConflict when it disagrees
        with a known area."""
        known = self._communities.get(names)
        if known is not None and not code:
            return known
        parent: Area | None = None
        for level, name in zip(_LEVELS, names, strict=True):
            official = code[: _WIDTH[level]] if len(code) >= _WIDTH[level] else None
            area = self._by_key.get((parent.id if parent else None, level, name))
            if area is None:
                area = await self._create(connection, parent, level, name, official)
            elif official and is_national(area.code) and area.code != official:
                raise AreaCodeConflict(f"{name} has the code {area.code}, not {official} (行政区划代码 {code})")
            parent = area
        assert parent is not None and parent.id is not None
        self._communities[names] = parent.id
        return parent.id

    async def _create(
        self, connection: AsyncConnection, parent: Area | None, level: AreaLevel, name: str, official: str | None
    ) -> Area:
        if official is not None:
            if official in self._codes:
                raise AreaCodeConflict(f"the code {official} (行政区划代码) belongs to another area than {name}")
            if parent is not None and is_national(parent.code) and not official.startswith(parent.code):
                raise AreaCodeConflict(f"{name}'s code {official} is not under {parent.name} ({parent.code})")
        code = official or self._new_code(parent, name)
        area = Area(
            code=code, name=name, level=level, parent_id=parent.id if parent else None, path=child_path(parent, code)
        )
        values = area.model_dump(exclude={"id"})
        area.id = (await connection.execute(insert(_AREAS).values(values).returning(_AREAS.c.id))).scalar_one()
        self._remember(area)
        self.created += 1
        return area

    def _new_code(self, parent: Area | None, name: str) -> str:
        if parent is None:
            known = province_code(name)
            if known and known not in self._codes:
                return known
        self._last_local += 1
        while (code := local_code(self._last_local)) in self._codes:
            self._last_local += 1
        return code

    def _remember(self, area: Area) -> None:
        self._by_key[(area.parent_id, AreaLevel(area.level), area.name)] = area
        self._codes.add(area.code)
        if local := _LOCAL.match(area.code):
            self._last_local = max(self._last_local, int(local.group(1)))
