"""The monthly visit rate: one definition for the bot, the dashboard and the reports."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.care.visit_rate import visit_rate
from carevisit.storage.enums import ElderStatus, VisitMode, VisitStatus
from tests.factories import make_area_tree, make_elder, make_visit


async def test_rate_counts_elders_with_any_completed_visit_over_active_consenting_elders(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    by_phone = await make_elder(session, clock, community=areas["community"])
    at_home = await make_elder(session, clock, community=areas["community2"])
    not_yet = await make_elder(session, clock, community=areas["community"])
    await make_elder(session, clock, community=areas["community"], consent=False)
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.DECEASED)
    await make_visit(session, clock, elder=by_phone, mode=VisitMode.PHONE, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=at_home, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=at_home, slot=2, status=VisitStatus.DONE)
    await make_visit(session, clock, elder=not_yet, status=VisitStatus.MISSED)

    street = await visit_rate(session, month="2026-03", area=areas["street"])
    assert (street.eligible, street.visited) == (3, 2)
    assert street.percent == "66.7%"

    community2 = await visit_rate(session, month="2026-03", area=areas["community2"])
    assert (community2.eligible, community2.visited, community2.rate) == (1, 1, 1.0)

    # Another month and another street see none of it.
    assert (await visit_rate(session, month="2026-04", area=areas["street"])).visited == 0
    assert (await visit_rate(session, month="2026-03", area=areas["other_street"])).eligible == 0
