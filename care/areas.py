"""Area subtrees: a coordinator of a street sees every community below it."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Area


def in_subtree(area: Area) -> ColumnElement[bool]:
    """A filter on `Area` rows: this area and everything below it (paths are prefixes of their children's)."""
    return col(Area.path).startswith(area.path)


async def subtree_ids(session: AsyncSession, *, area: Area) -> list[int]:
    result = await session.exec(select(Area.id).where(in_subtree(area)))
    return [area_id for area_id in result.all() if area_id is not None]


def child_path(parent: Area | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


async def area_choices(session: AsyncSession, *, area: Area, limit: int = 300) -> list[Area]:
    """`area` and what lies below it, in tree order, for a form's area list; at most `limit` (a big district
    is narrowed by drilling into a street first)."""
    statement = select(Area).where(in_subtree(area)).order_by(col(Area.path)).limit(limit)
    return list((await session.exec(statement)).all())


async def area_chain(session: AsyncSession, *, area: Area, top: Area) -> list[Area]:
    """The areas from `top` (a coordinator's own) down to `area`, for breadcrumbs: nothing above `top`."""
    codes = [code for code in area.path.split("/") if code]
    statement = select(Area).where(col(Area.code).in_(codes), col(Area.path).startswith(top.path))
    return sorted((await session.exec(statement)).all(), key=lambda found: len(found.path))
