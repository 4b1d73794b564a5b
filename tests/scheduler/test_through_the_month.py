"""Through the month: daily digests, overdue notices, month-end missed marking, extra visits, reassignment."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.clock import FakeClock
from carevisit.scheduler.extra_visits import ExtraVisitError, order_extra_visits
from carevisit.scheduler.reassignment import deactivate_volunteer, reassign_open_visits
from carevisit.scheduler.reminders import mark_missed, notify_overdue, queue_daily_digests
from carevisit.storage.enums import ElderClass, ElderStatus, VisitKind, VisitStatus
from carevisit.storage.models import ChatOutboxMessage, Visit
from tests.factories import make_area_tree, make_coordinator, make_elder, make_visit, make_volunteer
from tests.scheduler.conftest import SHANGHAI

NEW_YORK = ZoneInfo("America/New_York")


async def outbox(session: AsyncSession) -> list[ChatOutboxMessage]:
    return list((await session.exec(select(ChatOutboxMessage).order_by(col(ChatOutboxMessage.id)))).all())


async def test_each_volunteer_gets_one_digest_a_day_with_overdue_and_due_soon_visits(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    linked = await make_volunteer(session, clock, communities=[areas["community"]], telegram_chat_id=7001)
    unlinked = await make_volunteer(session, clock, communities=[areas["community"]])
    english = await make_volunteer(
        session, clock, communities=[areas["community"]], telegram_chat_id=7002, language="en"
    )
    tricky = await make_elder(session, clock, community=areas["community"], name="<b>王</b>&老")
    calm = await make_elder(session, clock, community=areas["community"], name="李奶奶")
    # Today is 10 March: one overdue (ended the 7th), one closing on the 12th, one far off (not in the digest).
    await make_visit(
        session, clock, elder=tricky, volunteer_id=linked.id, window_start=date(2026, 3, 1), window_end=date(2026, 3, 7)
    )
    await make_visit(
        session, clock, elder=calm, volunteer_id=linked.id, window_start=date(2026, 3, 8), window_end=date(2026, 3, 12)
    )
    await make_visit(
        session,
        clock,
        elder=calm,
        slot=2,
        volunteer_id=linked.id,
        window_start=date(2026, 3, 16),
        window_end=date(2026, 3, 31),
    )
    await make_visit(session, clock, elder=calm, slot=3, volunteer_id=unlinked.id, window_end=date(2026, 3, 11))
    await make_visit(session, clock, elder=tricky, slot=2, volunteer_id=english.id, window_end=date(2026, 3, 11))
    await session.commit()

    first = await queue_daily_digests(session, clock=clock, zone=SHANGHAI, language="zh_CN")
    await session.commit()
    again = await queue_daily_digests(session, clock=clock, zone=SHANGHAI, language="zh_CN")
    await session.commit()
    assert (first.queued, again.queued) == (2, 0)
    messages = {int(m.recipient): m.text for m in await outbox(session)}
    assert set(messages) == {7001, 7002}
    chinese = messages[7001]
    assert "已逾期 1 项" in chinese and "即将到期 1 项" in chinese
    assert "&lt;b&gt;王&lt;/b&gt;&amp;老" in chinese and "<b>王</b>" not in chinese
    assert "3月7日" in chinese and "3月31日" not in chinese
    assert "Due soon (1)" in messages[7002] and "by 11 Mar" in messages[7002]

    clock.advance(timedelta(days=1))  # a new day: a new digest
    assert (await queue_daily_digests(session, clock=clock, zone=SHANGHAI, language="zh_CN")).queued == 2


async def test_overdue_visits_are_told_once_to_the_nearest_coordinators(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    await make_coordinator(session, clock, area=areas["community"], telegram_chat_id=9001)
    await make_coordinator(session, clock, area=areas["street"], telegram_chat_id=9002)
    await make_coordinator(session, clock, area=areas["community"])  # no chat linked: cannot be told
    late = await make_elder(session, clock, community=areas["community"])
    elsewhere = await make_elder(session, clock, community=areas["community2"])
    nobody = await make_elder(session, clock, community=areas["other_community"])
    for elder in (late, elsewhere, nobody):
        await make_visit(session, clock, elder=elder, window_end=date(2026, 3, 9))
    await make_visit(session, clock, elder=late, slot=2, window_end=date(2026, 3, 10))  # due today: not overdue yet
    await session.commit()

    result = await notify_overdue(session, clock=clock, zone=SHANGHAI, language="zh_CN")
    await session.commit()
    assert (result.visits, result.coordinators, result.unreachable_areas) == (3, 2, 1)
    messages = {int(m.recipient): m.text for m in await outbox(session)}
    # The community's own coordinator hears of its elder; the street's of the community without its own.
    assert late.name in messages[9001] and elsewhere.name not in messages[9001]
    assert elsewhere.name in messages[9002] and "未分配" in messages[9002]
    assert (await notify_overdue(session, clock=clock, zone=SHANGHAI, language="zh_CN")).visits == 0


async def test_a_months_unconfirmed_visits_are_missed_once_the_first_of_the_next_is_over_and_kept(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder)
    await make_visit(session, clock, elder=elder, slot=2, status=VisitStatus.DONE)
    february = await make_visit(
        session, clock, elder=elder, month="2026-02", window_start=date(2026, 2, 1), window_end=date(2026, 2, 28)
    )
    await session.commit()
    clock.set(datetime(2026, 3, 31, 23, 59, tzinfo=SHANGHAI))
    assert await mark_missed(session, clock=clock, zone=SHANGHAI) == 1  # February's; still March in Shanghai
    # The 1st: March's open visit can still be confirmed (a visit made on the evening of the 31st), so it stays.
    clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=SHANGHAI))
    assert await mark_missed(session, clock=clock, zone=SHANGHAI) == 0
    clock.set(datetime(2026, 4, 1, 23, 59, tzinfo=SHANGHAI))
    assert await mark_missed(session, clock=clock, zone=SHANGHAI) == 0
    clock.set(datetime(2026, 4, 2, 0, 5, tzinfo=SHANGHAI))
    assert await mark_missed(session, clock=clock, zone=SHANGHAI) == 1
    await session.commit()
    statuses = (
        await session.exec(select(Visit.status).where(Visit.month == "2026-03").order_by(col(Visit.slot)))
    ).all()
    assert statuses == [VisitStatus.MISSED, VisitStatus.DONE]
    await session.refresh(february)
    assert february.status == VisitStatus.MISSED


async def test_an_extra_visit_for_one_elder_is_due_by_its_deadline_and_assigned_to_their_volunteer(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    usual = await make_volunteer(session, clock, communities=[areas["community"]])
    await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder, volunteer_id=usual.id)
    deadline = clock.now() + timedelta(hours=24)
    order = await order_extra_visits(
        session, clock=clock, zone=SHANGHAI, deadline=deadline, reason="出院", actor="cli", elder_ids=[elder.id]
    )
    await session.commit()
    (visit,) = order.visits
    assert (visit.kind, visit.slot, visit.volunteer_id, visit.deadline_at) == (VisitKind.EXTRA, 101, usual.id, deadline)
    assert (visit.window_start, visit.window_end) == (date(2026, 3, 10), date(2026, 3, 11))
    # Ordered again for the same reason while open: nothing new.
    again = await order_extra_visits(
        session, clock=clock, zone=SHANGHAI, deadline=deadline, reason="出院", actor="cli", elder_ids=[elder.id]
    )
    assert (again.visits, again.skipped_already_ordered) == ([], 1)


async def test_extra_and_unplanned_visits_of_one_month_keep_out_of_each_others_slots(
    session: AsyncSession, clock: FakeClock
) -> None:
    from carevisit.care.confirmations import start_unplanned_visit
    from carevisit.storage.enums import VisitMode

    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]])
    elder = await make_elder(session, clock, community=areas["community"])
    await make_visit(session, clock, elder=elder, volunteer_id=volunteer.id)
    deadline = clock.now() + timedelta(hours=24)

    async def unplanned() -> Visit:
        visit = await start_unplanned_visit(
            session,
            clock=clock,
            volunteer_id=volunteer.id,
            elder_id=elder.id,
            today=date(2026, 3, 10),
            mode=VisitMode.PHONE,
        )
        await session.commit()
        return visit

    async def extra(reason: str) -> Visit:
        order = await order_extra_visits(
            session, clock=clock, zone=SHANGHAI, deadline=deadline, reason=reason, actor="cli", elder_ids=[elder.id]
        )
        await session.commit()
        (visit,) = order.visits
        return visit

    first_unplanned = await unplanned()
    after_unplanned = await extra("出院")
    second_unplanned = await unplanned()
    after_both = await extra("寒潮")
    assert (after_unplanned.slot, after_both.slot) == (101, 102)
    assert (first_unplanned.slot, second_unplanned.slot) == (201, 202)


async def test_an_extra_visit_for_a_class_in_an_area_skips_others_and_the_ineligible(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    alone = await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.ALONE))
    await make_elder(session, clock, community=areas["community2"], classes=int(ElderClass.ALONE | ElderClass.DISABLED))
    await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.EMPTY_NEST))
    await make_elder(session, clock, community=areas["other_community"], classes=int(ElderClass.ALONE))
    await make_elder(session, clock, community=areas["community"], classes=int(ElderClass.ALONE), consent=False)
    order = await order_extra_visits(
        session,
        clock=clock,
        zone=SHANGHAI,
        deadline=clock.now() + timedelta(days=2),
        reason="高温",
        actor="cli",
        area=areas["street"],
        classes=ElderClass.ALONE,
    )
    assert len(order.visits) == 2 and order.skipped_not_eligible == 1
    assert order.unassigned == 2  # no volunteers: listed, not dropped
    assert alone.id in {v.elder_id for v in order.visits}


async def test_a_bad_extra_order_changes_nothing(session: AsyncSession, clock: FakeClock) -> None:
    areas = await make_area_tree(session)
    elder = await make_elder(session, clock, community=areas["community"])
    with pytest.raises(ExtraVisitError, match="passed"):
        await order_extra_visits(
            session,
            clock=clock,
            zone=SHANGHAI,
            deadline=clock.now() - timedelta(hours=1),
            reason="跌倒",
            actor="cli",
            elder_ids=[elder.id],
        )
    with pytest.raises(ExtraVisitError, match="no such elder"):
        await order_extra_visits(
            session,
            clock=clock,
            zone=SHANGHAI,
            deadline=clock.now() + timedelta(hours=1),
            reason="跌倒",
            actor="cli",
            elder_ids=[elder.id + 999],
        )
    assert (await session.exec(select(Visit))).all() == []


async def test_a_deactivated_volunteers_open_visits_go_to_another_and_done_ones_stay(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    leaving = await make_volunteer(session, clock, communities=[areas["community"]])
    staying = await make_volunteer(session, clock, communities=[areas["community"]], capacity=1)
    first = await make_elder(session, clock, community=areas["community"])
    second = await make_elder(session, clock, community=areas["community"])
    done = await make_visit(
        session, clock, elder=first, volunteer_id=leaving.id, status=VisitStatus.DONE, done_by_volunteer_id=leaving.id
    )
    open_a = await make_visit(session, clock, elder=first, slot=2, volunteer_id=leaving.id)
    open_b = await make_visit(session, clock, elder=second, volunteer_id=leaving.id)
    later = await make_visit(session, clock, elder=second, month="2026-04", volunteer_id=leaving.id)
    await session.commit()

    result = await deactivate_volunteer(session, clock=clock, volunteer_id=leaving.id, month="2026-03", actor="cli")
    await session.commit()
    assert result.reassigned == 1 and [v.id for v, _ in result.unassigned] == [open_b.id]  # capacity 1
    for visit in (done, open_a, open_b, later):
        await session.refresh(visit)
    assert (done.volunteer_id, open_a.volunteer_id, open_b.volunteer_id) == (leaving.id, staying.id, None)
    assert later.volunteer_id == staying.id  # April has its own capacity

    # A new volunteer joins; reassigning picks up what was left.
    newcomer = await make_volunteer(session, clock, communities=[areas["community"]])
    again = await reassign_open_visits(session, clock=clock, month="2026-03")
    await session.commit()
    await session.refresh(open_b)
    assert (again.reassigned, again.unassigned, open_b.volunteer_id) == (1, [], newcomer.id)


async def test_paused_elders_are_not_reminded_for_visits_already_cancelled(
    session: AsyncSession, clock: FakeClock
) -> None:
    areas = await make_area_tree(session)
    volunteer = await make_volunteer(session, clock, communities=[areas["community"]], telegram_chat_id=5)
    elder = await make_elder(session, clock, community=areas["community"], status=ElderStatus.PAUSED)
    await make_visit(
        session,
        clock,
        elder=elder,
        volunteer_id=volunteer.id,
        status=VisitStatus.CANCELLED,
        window_end=date(2026, 3, 11),
    )
    await session.commit()
    assert (await queue_daily_digests(session, clock=clock, zone=SHANGHAI, language="zh_CN")).volunteers == 0


async def test_visits_of_elders_who_left_withdrew_or_are_paused_are_cancelled_whoever_changed_them(
    session: AsyncSession, clock: FakeClock
) -> None:
    from carevisit.scheduler.elder_pause import cancel_visits_of_ineligible

    areas = await make_area_tree(session)
    community = areas["community"]
    active = await make_elder(session, clock, community=community)
    moved = await make_elder(session, clock, community=community, status=ElderStatus.MOVED)
    refused = await make_elder(session, clock, community=community, consent=False)
    in_hospital = await make_elder(session, clock, community=community, status=ElderStatus.PAUSED)
    back_on_15th = await make_elder(
        session, clock, community=community, status=ElderStatus.PAUSED, paused_until=date(2026, 3, 15)
    )
    for elder in (active, moved, refused, in_hospital):
        await make_visit(session, clock, elder=elder)
    early = await make_visit(session, clock, elder=back_on_15th, window_end=date(2026, 3, 10))
    late = await make_visit(session, clock, elder=back_on_15th, slot=2, window_start=date(2026, 3, 16))
    done = await make_visit(session, clock, elder=moved, slot=2, status=VisitStatus.DONE)
    await session.commit()

    assert await cancel_visits_of_ineligible(session, clock=clock) == 4
    await session.commit()
    assert await cancel_visits_of_ineligible(session, clock=clock) == 0
    rows = (await session.exec(select(Visit.elder_id, Visit.slot, Visit.status))).all()
    status = {(elder_id, slot): s for elder_id, slot, s in rows}
    assert status[(active.id, 1)] == VisitStatus.PLANNED
    assert status[(early.elder_id, early.slot)] == VisitStatus.CANCELLED
    assert status[(late.elder_id, late.slot)] == VisitStatus.PLANNED
    assert status[(done.elder_id, done.slot)] == VisitStatus.DONE  # history is never rewritten
    assert {status[(e.id, 1)] for e in (moved, refused, in_hospital)} == {VisitStatus.CANCELLED}


@pytest.mark.parametrize(
    ("moment", "today", "month"),
    [
        # New York leaves standard time at 02:00 on 8 March 2026 and returns to it at 02:00 on 1 November.
        (datetime(2026, 3, 8, 1, 59, tzinfo=NEW_YORK), date(2026, 3, 8), "2026-03"),
        (datetime(2026, 3, 8, 3, 1, tzinfo=NEW_YORK), date(2026, 3, 8), "2026-03"),
        (datetime(2026, 10, 31, 23, 30, tzinfo=NEW_YORK), date(2026, 10, 31), "2026-10"),  # 03:30 UTC on 1 November
        (
            datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK),
            date(2026, 11, 1),
            "2026-11",
        ),  # the repeated hour, second time
    ],
)
def test_local_days_and_months_in_a_zone_with_daylight_saving(moment: datetime, today: date, month: str) -> None:
    from carevisit.care.clock import local_today, month_of

    clock = FakeClock(moment)
    assert local_today(clock, NEW_YORK) == today
    assert month_of(local_today(clock, NEW_YORK)) == month
