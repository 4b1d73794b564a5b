"""The counts a coordinator confirms before a large order: each is exactly what the order then does."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.scheduler.extra_visits import ExtraPreview, order_extra_visits, preview_extra_visits
from carevisit.scheduler.reassignment import count_needing_reassignment, reassign_open_visits
from carevisit.storage.enums import ElderClass, ElderStatus
from tests.factories import make_area_tree, make_elder, make_visit, make_volunteer
from tests.scheduler.conftest import SHANGHAI


async def test_the_extra_visit_preview_counts_what_the_order_orders(session: AsyncSession, clock: FakeClock) -> None:
    areas = await make_area_tree(session)
    alone = [await make_elder(session, clock, community=areas[c]) for c in ("community", "community2", "community")]
    await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.EMPTY_NEST))  # not chosen
    await make_elder(session, clock, community=areas["community"], status=ElderStatus.PAUSED)  # not eligible
    await make_elder(session, clock, community=areas["other_community"])  # another street
    deadline = clock.now() + timedelta(hours=24)
    await order_extra_visits(  # one of them already has this extra visit open
        session, clock=clock, zone=SHANGHAI, deadline=deadline, reason="高温", actor="cli", elder_ids=[alone[0].id]
    )
    selection = {"area": areas["street"], "classes": ElderClass.ALONE}

    preview = await preview_extra_visits(session, reason=" 高温 ", **selection)  # type: ignore[arg-type]
    order = await order_extra_visits(
        session, clock=clock, zone=SHANGHAI, deadline=deadline, reason="高温", actor="cli", **selection
    )

    assert preview == ExtraPreview(elders=4, visits=2, not_eligible=1, already_ordered=1)
    assert (len(order.visits), order.skipped_not_eligible, order.skipped_already_ordered) == (2, 1, 1)


async def test_the_reassignment_count_is_what_reassignment_moves(session: AsyncSession, clock: FakeClock) -> None:
    areas = await make_area_tree(session)
    serving = await make_volunteer(session, clock, communities=[areas["community"]])
    gone = await make_volunteer(session, clock, communities=[areas["community"]], active=False)
    elsewhere = await make_volunteer(session, clock, communities=[areas["community2"]])  # moved away
    elders = [await make_elder(session, clock, community=areas["community"]) for _ in range(4)]
    await make_visit(session, clock, elder=elders[0], volunteer_id=serving.id)  # stays
    await make_visit(session, clock, elder=elders[1])  # nobody yet
    await make_visit(session, clock, elder=elders[2], volunteer_id=gone.id)
    await make_visit(session, clock, elder=elders[3], volunteer_id=elsewhere.id)
    other = await make_elder(session, clock, community=areas["other_community"])
    await make_visit(session, clock, elder=other)  # another street: not this coordinator's
    await session.flush()

    count = await count_needing_reassignment(session, month="2026-03", area=areas["street"])
    result = await reassign_open_visits(session, clock=clock, month="2026-03", area=areas["street"], actor="cli")

    assert count == 3 == result.reassigned + len(result.unassigned)
