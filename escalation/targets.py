"""Loading whom an incident may page: the elder's emergency contacts and the coordinators responsible."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.people import chat_recipient
from carevisit.escalation.decide import Target
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Area, Coordinator, EmergencyContact


async def contact_targets_by_elder(session: AsyncSession, *, elder_ids: list[int]) -> dict[int, list[Target]]:
    """Each elder's emergency contacts, in position order (those the roster lists)."""
    rows = await session.exec(
        select(EmergencyContact)
        .where(col(EmergencyContact.elder_id).in_(elder_ids), col(EmergencyContact.removed_at).is_(None))
        .order_by(col(EmergencyContact.elder_id), col(EmergencyContact.position))
    )
    found: dict[int, list[Target]] = {}
    for c in rows.all():
        label = f"{c.name}（{c.relation}）" if c.relation else c.name
        found.setdefault(c.elder_id, []).append(
            Target("contact", c.id or 0, c.phone, c.phone_kind, language=c.language, label=label)
        )
    return found


async def coordinator_targets_for(session: AsyncSession, *, community: Area) -> list[Target]:
    """The active coordinators of the community, or of the nearest area above it that has any."""
    parts = [p for p in community.path.split("/") if p]
    ancestors = ["/" + "/".join(parts[:n]) + "/" for n in range(len(parts), 0, -1)]
    rows = await session.exec(
        select(Coordinator, Area.path)
        .join(Area, col(Area.id) == col(Coordinator.area_id))
        .where(
            col(Area.path).in_(ancestors),
            col(Coordinator.active).is_(True),
            col(Coordinator.role) != CoordinatorRole.VIEWER,
        )
        .order_by(col(Coordinator.id))
    )
    found = rows.all()
    for path in ancestors:
        nearest = [c for c, p in found if p == path]
        if nearest:
            return [
                Target("coordinator", c.id or 0, c.phone, c.phone_kind, c.language, chat_recipient(c), c.name)
                for c in nearest
            ]
    return []
