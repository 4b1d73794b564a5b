"""Writing to the append-only audit log. The caller's session owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import Clock
from carevisit.storage.models import AuditEntry


def record(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (not committed). Keep personal data out of `details`: ids, not names."""
    entry = AuditEntry(at=clock.now(), actor=actor, action=action, entity=entity, entity_id=entity_id, details=details)
    session.add(entry)
    return entry
