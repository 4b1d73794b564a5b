"""What the close form of an incident starts from: the handling record its reporter already wrote (the volunteer
app and the bot add it as notes), so that a coordinator closing the incident confirms or corrects it rather than
typing it again."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.models import Incident, IncidentNote

FIELDS = ("what_happened", "actions_taken", "outcome")


def reporter_actor(incident: Incident) -> str | None:
    """The reporter as notes name their author ("volunteer:7"), or None when the system opened it."""
    if incident.reporter_volunteer_id:
        return f"volunteer:{incident.reporter_volunteer_id}"
    if incident.reporter_coordinator_id:
        return f"coordinator:{incident.reporter_coordinator_id}"
    return None


async def reporters_record(session: AsyncSession, *, incident: Incident) -> dict[str, str]:
    """Each field of the close form as the reporter last wrote it (a later note corrects an earlier one; an empty
    field of a later note keeps the earlier answer); empty fields when they wrote nothing."""
    record = dict.fromkeys(FIELDS, "")
    author = reporter_actor(incident)
    if author is None or incident.id is None:
        return record
    notes = await session.exec(
        select(IncidentNote)
        .where(IncidentNote.incident_id == incident.id, IncidentNote.author == author)
        .order_by(col(IncidentNote.at), col(IncidentNote.id))
    )
    for note in notes.all():
        for name in FIELDS:
            if value := (getattr(note, name) or "").strip():
                record[name] = value
    return record
