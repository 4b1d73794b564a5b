"""Who may see and act on what: a coordinator's area subtree."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Area, Coordinator


class NotAllowed(LookupError):
    """This person may not act on that elder or incident (the same answer whether it exists or not)."""


async def coordinator_area(session: AsyncSession, *, coordinator: Coordinator) -> Area:
    area = await session.get(Area, coordinator.area_id)
    assert area is not None, "coordinator.area_id is a foreign key"
    return area


def may_see(coordinator_area: Area, area: Area) -> bool:
    """A coordinator sees their own area and everything below it, nothing beside or above it."""
    return area.path.startswith(coordinator_area.path)
