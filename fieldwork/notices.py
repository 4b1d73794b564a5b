"""Telling coordinators about new emergencies and problems in their area, through the rate-limited chat outbox.

Queued in the caller's transaction (so a rolled-back report tells nobody), in each coordinator's language, on the
channel they have (`care.people.chat_recipient`: WeCom before Telegram). Viewers (read-only accounts) are told of
emergencies too, without the Acknowledge button; everyone gets the incident page's link, which shows each only what
they may read. The idempotency keys are the ones the bot used, so nothing already queued is sent twice.
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import outbound
from carevisit.care.people import chat_recipient, coordinators_over
from carevisit.care.ports import Button
from carevisit.fieldwork import texts
from carevisit.fieldwork.context import FieldContext
from carevisit.storage.enums import CoordinatorRole
from carevisit.storage.models import Elder, Incident, Problem

# The bot's IncidentCb(action=ACK) packs to exactly this, so a Telegram tap and a WeCom card key read the same.
_ACK_PREFIX = "i:a:"
_ACK = re.compile(r"i:a:([1-9][0-9]{0,17})")


def ack_data(incident_id: int) -> str:
    return f"{_ACK_PREFIX}{incident_id}"


def incident_of_ack(data: str) -> int | None:
    """The incident an Acknowledge button's data names; None for anything else."""
    match = _ACK.fullmatch(data)
    return int(match.group(1)) if match else None


def incident_link(ctx: FieldContext, incident_id: int) -> str | None:
    """The dashboard's incident page, for channels that show a link beside (or instead of) buttons."""
    return f"{ctx.public_url.rstrip('/')}/incidents/{incident_id}" if ctx.public_url else None


async def incident_to_coordinators(
    session: AsyncSession, ctx: FieldContext, *, incident: Incident, elder: Elder
) -> None:
    assert incident.id is not None
    for coordinator in await coordinators_over(session, community_id=elder.community_id):
        to = chat_recipient(coordinator)
        if to is None:
            continue
        language = texts.language_of(coordinator.language, ctx.language)
        buttons: tuple[tuple[Button, ...], ...] = ()
        viewer = coordinator.role == CoordinatorRole.VIEWER  # may read, not act: no Acknowledge button
        if not viewer:
            buttons = ((Button(texts.button_ack(language), ack_data(incident.id)),),)
        await outbound.enqueue(
            session,
            clock=ctx.clock,
            key=f"incident:{incident.id}:new:coordinator:{coordinator.id}",
            to=to,
            text=texts.new_incident(language, incident, elder, viewer=viewer),
            buttons=buttons,
            link=incident_link(ctx, incident.id),  # viewers may read the page too
        )


async def problem_to_coordinators(session: AsyncSession, ctx: FieldContext, *, problem: Problem, elder: Elder) -> None:
    for coordinator in await coordinators_over(session, community_id=elder.community_id):
        to = chat_recipient(coordinator)
        if to is None:
            continue
        language = texts.language_of(coordinator.language, ctx.language)
        await outbound.enqueue(
            session,
            clock=ctx.clock,
            key=f"problem:{problem.id}:new:coordinator:{coordinator.id}",
            to=to,
            text=texts.new_problem(language, problem.category, elder, urgent=problem.urgent),
        )
