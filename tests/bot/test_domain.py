"""The domain under the bot, directly: which problems a checklist files, linking rules, who a chat account is,
confirming a cancelled visit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.chat_accounts import LinkProblem, LinkRefused, chat_user, link_by_contact, redeem_invitation
from carevisit.care.clock import FakeClock
from carevisit.care.confirmations import (
    CONCERN,
    DEFAULT_CHECKLIST,
    OK,
    VisitClosed,
    VisitNotYours,
    confirm_visit,
    problems_from_checklist,
)
from carevisit.care.invitations import create_invitation
from carevisit.care.people import chat_recipient
from carevisit.care.ports import TELEGRAM, WECOM, Recipient
from carevisit.storage.enums import ProblemCategory, VisitMode, VisitOutcome, VisitStatus
from carevisit.storage.models import Coordinator
from tests.bot.conftest import COORDINATOR_TG, SHANGHAI, VOLUNTEER_TG, World
from tests.factories import make_volunteer

ALL_OK = {item.key: OK for item in DEFAULT_CHECKLIST}


@pytest.mark.parametrize(
    ("answers", "outcome", "expected"),
    [
        (ALL_OK, VisitOutcome.WELL, []),
        (ALL_OK, VisitOutcome.PROBLEM, [ProblemCategory.OTHER]),
        (ALL_OK | {"home_safety": CONCERN}, VisitOutcome.PROBLEM, [ProblemCategory.HOME_SAFETY]),
        (
            ALL_OK | {"mood": CONCERN, "care_needs": CONCERN},
            VisitOutcome.WELL,
            [ProblemCategory.LONELINESS, ProblemCategory.REFERRAL],
        ),
        ({"unknown": CONCERN}, VisitOutcome.WELL, []),
    ],
)
def test_which_problems_a_checklist_files(
    answers: dict[str, str], outcome: VisitOutcome, expected: list[ProblemCategory]
) -> None:
    assert problems_from_checklist(DEFAULT_CHECKLIST, answers, outcome) == expected


async def test_a_cancelled_visit_cannot_be_confirmed(world: World, session: AsyncSession, clock: FakeClock) -> None:
    world.visit.status = VisitStatus.CANCELLED
    session.add(world.visit)
    await session.commit()
    with pytest.raises(VisitClosed):
        await confirm_visit(
            session,
            clock=clock,
            zone=SHANGHAI,
            visit_id=world.visit.id,
            volunteer_id=world.volunteer.id,  # type: ignore[arg-type]
            mode=VisitMode.HOME,
            outcome=VisitOutcome.WELL,
        )


@pytest.mark.parametrize(
    ("moment", "confirmed"),
    [
        (datetime(2026, 4, 1, 23, 59, 59, tzinfo=SHANGHAI), True),  # the last second of the 1st: late, taken
        (datetime(2026, 4, 2, 0, 0, tzinfo=SHANGHAI), False),  # the month is closed, marked missed or not
    ],
)
async def test_a_past_months_visit_can_be_confirmed_through_the_first_of_the_next_only(
    world: World, session: AsyncSession, moment: datetime, confirmed: bool
) -> None:
    confirm = confirm_visit(
        session,
        clock=FakeClock(moment),
        zone=SHANGHAI,
        visit_id=world.visit.id,  # type: ignore[arg-type]
        volunteer_id=world.volunteer.id,  # type: ignore[arg-type]
        mode=VisitMode.HOME,
        outcome=VisitOutcome.WELL,
    )
    if confirmed:
        assert not (await confirm).already_done
    else:
        with pytest.raises(VisitClosed):
            await confirm
    await session.commit()
    await session.refresh(world.visit)
    assert (world.visit.status, world.visit.month) == (
        VisitStatus.DONE if confirmed else VisitStatus.PLANNED,
        "2026-03",
    )


async def test_another_volunteers_visit_is_not_found(world: World, session: AsyncSession, clock: FakeClock) -> None:
    with pytest.raises(VisitNotYours):
        await confirm_visit(
            session,
            clock=clock,
            zone=SHANGHAI,
            visit_id=world.visit.id,
            volunteer_id=world.other_volunteer.id,  # type: ignore[arg-type]
            mode=VisitMode.HOME,
            outcome=VisitOutcome.WELL,
        )
    await session.refresh(world.visit)
    assert world.visit.status == VisitStatus.PLANNED


async def test_a_roster_record_linked_to_another_account_is_not_taken_over(
    world: World, session: AsyncSession, clock: FakeClock
) -> None:
    token = await create_invitation(session, clock=clock, created_by="cli", volunteer_id=world.volunteer.id)
    with pytest.raises(LinkRefused) as refused:
        await redeem_invitation(session, clock=clock, token=token, telegram_user_id=4444, chat_id=4444, language=None)
    assert refused.value.reason == LinkProblem.TAKEN


async def test_an_unknown_phone_links_nobody(world: World, session: AsyncSession, clock: FakeClock) -> None:
    with pytest.raises(LinkRefused) as refused:
        await link_by_contact(
            session,
            clock=clock,
            telegram_user_id=5,
            chat_id=5,
            contact_user_id=5,
            phone="+8613000000000",
            region="CN",
            language=None,
        )
    assert refused.value.reason == LinkProblem.NO_MATCH


async def test_an_invitation_needs_an_active_person(world: World, session: AsyncSession, clock: FakeClock) -> None:
    gone = await make_volunteer(session, clock, communities=[], active=False)
    with pytest.raises(LookupError):
        await create_invitation(session, clock=clock, created_by="cli", volunteer_id=gone.id)


async def test_who_a_chat_account_is(world: World, session: AsyncSession) -> None:
    volunteer = await chat_user(session, telegram_user_id=VOLUNTEER_TG)
    coordinator = await chat_user(session, telegram_user_id=COORDINATOR_TG)
    nobody = await chat_user(session, telegram_user_id=31337)
    assert volunteer.volunteer is not None and volunteer.coordinator is None
    assert coordinator.coordinator is not None and coordinator.volunteer is None
    assert not nobody.linked
    world.volunteer.active = False
    session.add(world.volunteer)
    await session.commit()
    assert not (await chat_user(session, telegram_user_id=VOLUNTEER_TG)).linked  # deactivated: no access at once


def test_a_person_is_reached_on_wecom_once_linked_else_on_telegram_else_not_at_all() -> None:
    both = Coordinator(name="王", area_id=1, created_at=datetime.now(UTC), telegram_chat_id=5, wecom_userid="wang")
    telegram_only = Coordinator(name="李", area_id=1, created_at=datetime.now(UTC), telegram_chat_id=6)
    nowhere = Coordinator(name="赵", area_id=1, created_at=datetime.now(UTC))
    assert chat_recipient(both) == Recipient(WECOM, "wang")
    assert chat_recipient(telegram_only) == Recipient(TELEGRAM, "6")
    assert chat_recipient(nowhere) is None
