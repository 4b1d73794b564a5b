"""Linking safely, and nobody reading what is not theirs: unlinked users, forged buttons, expired invitations."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.callbacks import ConfirmCb, ElderCb, ElderPurpose, IncidentAction, IncidentCb, VisitAction, VisitCb
from carevisit.care.clock import FakeClock
from carevisit.care.invitations import create_invitation
from carevisit.storage.enums import VisitStatus
from carevisit.storage.models import Incident, Visit
from tests.bot.conftest import OTHER_TG, STRANGER_TG, VOLUNTEER_TG, World, t
from tests.bot.fake_telegram import FakeTelegram, Person
from tests.factories import make_volunteer


async def invite(session: AsyncSession, clock: FakeClock, volunteer_id: int) -> str:
    token = await create_invitation(session, clock=clock, created_by="cli", volunteer_id=volunteer_id)
    await session.commit()
    return token


async def test_an_invitation_links_once(
    world: World, stranger: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    newcomer = await make_volunteer(session, clock, communities=[world.areas["community"]], name="赵新人")
    token = await invite(session, clock, newcomer.id)  # type: ignore[arg-type]
    await stranger.send(f"/start {token}")
    assert t("Welcome, {name}! Your account is linked. Send /visits to see your visits.", language).format(
        name="赵新人"
    ) == tg.last_text(STRANGER_TG)
    assert t("My visits", language) in tg.reply_buttons(STRANGER_TG)
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id == STRANGER_TG
    assert newcomer.language == language

    intruder = Person(tg, 5555, stranger.language_code, stranger.deliver)
    await intruder.send(f"/start {token}")  # the same link again, by someone else
    assert tg.last_text(5555) == t(
        "This invitation is not valid or was already used. Ask your coordinator for a new one.", language
    )
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id == STRANGER_TG


async def test_an_expired_invitation_is_refused(
    world: World, stranger: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    newcomer = await make_volunteer(session, clock, communities=[world.areas["community"]])
    token = await invite(session, clock, newcomer.id)  # type: ignore[arg-type]
    clock.advance(timedelta(days=8))
    await stranger.send(f"/start {token}")
    assert tg.last_text(STRANGER_TG) == t("This invitation has expired. Ask your coordinator for a new one.", language)
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id is None


async def test_a_shared_own_contact_matching_the_roster_links(
    world: World, stranger: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    newcomer = await make_volunteer(
        session, clock, communities=[world.areas["community"]], name="钱电话", phone="+8613812345678"
    )
    await session.commit()
    await stranger.send("hello")
    assert t("Share my phone number", language) in tg.reply_buttons(STRANGER_TG)
    await stranger.send_content(contact={"phone_number": "8613812345678", "first_name": "钱", "user_id": STRANGER_TG})
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id == STRANGER_TG


async def test_someone_elses_contact_links_nobody(
    world: World, stranger: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    newcomer = await make_volunteer(session, clock, communities=[world.areas["community"]], phone="+8613812345679")
    await session.commit()
    await stranger.send_content(contact={"phone_number": "+8613812345679", "first_name": "钱", "user_id": 777})
    assert tg.last_text(STRANGER_TG) == t(
        "Please share your own contact with the button, not someone else's.", language
    )
    await session.refresh(newcomer)
    assert newcomer.telegram_user_id is None


async def test_an_unlinked_user_gets_a_polite_refusal_and_no_data(
    world: World, stranger: Person, tg: FakeTelegram, language: str
) -> None:
    for text in ("/visits", "/sos", "/stats", "/start", "随便说点什么", "/nonsense"):
        await stranger.send(text)
    refusal = t(
        "Hello! This bot is for volunteers and staff of the elderly care-visit programme. "
        "Your account is not linked yet: open the invitation link from your coordinator, "
        "or share your phone number with the button below if it is on the roster.",
        language,
    )
    assert tg.texts(STRANGER_TG) == [refusal] * 6
    await stranger.press_data(ConfirmCb(visit_id=world.visit.id).pack())  # type: ignore[arg-type]
    await stranger.press_data(VisitCb(action=VisitAction.SOS, visit_id=world.visit.id).pack())  # type: ignore[arg-type]
    assert tg.texts(STRANGER_TG) == [refusal] * 6  # nothing was sent, buttons only got an alert
    assert all("陈" not in text for text in tg.alerts())


async def test_crafted_callback_data_for_another_volunteers_visit_is_refused(
    world: World, other_person: Person, tg: FakeTelegram, session: AsyncSession
) -> None:
    visit_id = world.visit.id
    assert visit_id is not None
    for data in (
        ConfirmCb(visit_id=visit_id).pack(),
        ConfirmCb(visit_id=visit_id, mode="home", outcome="well", answers="ooooo").pack(),
        VisitCb(action=VisitAction.SOS, visit_id=visit_id).pack(),
        VisitCb(action=VisitAction.PROBLEM, visit_id=visit_id).pack(),
        IncidentCb(action=IncidentAction.ACK, incident_id=1).pack(),
    ):
        await other_person.press_data(data)
    assert tg.texts(OTHER_TG) == []  # no elder name, address or contact was sent
    assert tg.alerts()[:4] == [t("This is not one of your visits.", "zh_CN")] * 4
    visit = await session.get(Visit, visit_id)
    assert visit is not None and visit.status == VisitStatus.PLANNED
    assert (await session.exec(select(Incident))).all() == []


async def test_an_elder_outside_ones_communities_cannot_be_chosen(
    world: World, volunteer_person: Person, tg: FakeTelegram, session: AsyncSession, clock: FakeClock, language: str
) -> None:
    from tests.factories import make_elder

    outsider = await make_elder(session, clock, community=world.areas["other_community"], name="外社区老人")
    await session.commit()
    await volunteer_person.press_data(ElderCb(purpose=ElderPurpose.SOS, elder_id=outsider.id).pack())  # type: ignore[arg-type]
    await volunteer_person.press_data(ElderCb(purpose=ElderPurpose.PROBLEM, elder_id=outsider.id).pack())  # type: ignore[arg-type]
    assert tg.alerts() == [t("You cannot do that.", language)] * 2
    assert all("外社区老人" not in text for text in tg.texts(VOLUNTEER_TG))


async def test_garbage_and_stale_buttons_get_a_helpful_answer(
    world: World, volunteer_person: Person, tg: FakeTelegram, language: str
) -> None:
    await volunteer_person.send("asdfgh")
    assert tg.last_text(VOLUNTEER_TG).startswith(t("Sorry, I did not understand. Here is what I can do:", language))
    await volunteer_person.press_data("c:not-a-number")
    await volunteer_person.press_data("zzz")
    await volunteer_person.press_data(ConfirmCb(visit_id=world.visit.id, mode="teleport").pack())  # type: ignore[arg-type]
    stale = t("This button is out of date. Send /visits to see your visits.", language)
    assert tg.alerts() == [stale] * 3


async def test_the_bot_says_nothing_in_a_group(world: World, tg: FakeTelegram, deliver) -> None:  # type: ignore[no-untyped-def]
    group_id = -100123
    await deliver(
        {
            "update_id": 990001,
            "message": {
                "message_id": 1,
                "date": 1773108000,
                "chat": {"id": group_id, "type": "supergroup", "title": "志愿者群"},
                "from": {"id": VOLUNTEER_TG, "is_bot": False, "first_name": "王", "language_code": "zh-hans"},
                "text": "/visits",
                "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            },
        }
    )
    assert tg.texts(group_id) == [] and tg.texts(VOLUNTEER_TG) == []


async def test_a_coordinator_links_with_their_own_invitation(
    world: World, stranger: Person, tg: FakeTelegram, language: str, session: AsyncSession, clock: FakeClock
) -> None:
    from tests.factories import make_coordinator

    staff = await make_coordinator(session, clock, area=world.areas["community2"], name="孙社工")
    token = await create_invitation(session, clock=clock, created_by="cli", coordinator_id=staff.id)
    await session.commit()
    await stranger.send(f"/start {token}")
    assert tg.last_text(STRANGER_TG) == t(
        "Welcome, {name}! You are linked as a coordinator: /stats, /overdue, /unassigned.", language
    ).format(name="孙社工")
    await stranger.send("/stats")
    assert "高新社区" in tg.last_text(STRANGER_TG)
