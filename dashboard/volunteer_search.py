"""Finding a volunteer on the volunteers page by name or roster id (编号): a phone shows a few cards, not dozens."""

from __future__ import annotations

from carevisit.care.volunteer_roster import VolunteerRow

MAX_QUERY = 50  # characters of a search that are read; a name or an id is far shorter


def search_text(raw: str | None) -> str:
    """The search as typed, trimmed and bounded."""
    return (raw or "").strip()[:MAX_QUERY]


def matching(rows: list[VolunteerRow], query: str) -> list[VolunteerRow]:
    """The rows whose name or roster id contains `query`, case aside (v001 finds V0012); all rows for no query."""
    if not query:
        return rows
    wanted = query.casefold()
    return [row for row in rows if wanted in row.name.casefold() or wanted in row.external_id.casefold()]
