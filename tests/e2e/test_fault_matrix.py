"""The fault matrix: one emergency, end to end, with the fault that really happens at each step of its chain.

The chain: the volunteer taps SOS (1) → Telegram's update is stored (2) → the handler runs (3) → the incident is
opened (4) → outbox rows are written (5) → Twilio is asked to text and call (6) → Twilio's status callbacks (7) →
the family acknowledges, by the signed link or by replying 1 (8) → a coordinator resolves it and the family gets
the all-clear (9). Each case is a story on the whole service (`stack`) with one fault injected: a restart at that
point, a provider or Telegram error, a late or replayed delivery. Whatever the fault, what people see must hold
(`Chain.finish`): one incident; each number paged once a step (no second text or call for the same step); the
volunteer answered once per tap, never with an apology; the acknowledgement stops paging; the all-clear goes
once to each number that got a page; nothing left pending, uncertain or unhandled.

The table of cases is printed at the end of the run (tests/e2e/fault_matrix.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.bot.updates import CLAIM_LEASE
from carevisit.parts.escalation import STOP_GRACE
from carevisit.storage.enums import DeliveryStatus, IncidentStatus
from carevisit.storage.models import ChatOutboxMessage, Incident, OutboxMessage, TelegramChatClaim, TelegramUpdate
from tests.bot.conftest import t
from tests.bot.fake_telegram import flood, server_error
from tests.e2e.conftest import CONTACT1, CONTACT2, VOLUNTEER_TG, People, Stack, eventually
from tests.e2e.fault_matrix import FAULTS, STEPS
from tests.escalation.fake_twilio import Record

LANG = "zh_CN"
ALL_CLEAR = "处理完毕"
APOLOGY = t(
    "Sorry, something went wrong on our side. Please try again in a moment. In an emergency, call 120 directly.", LANG
)
CLIENT_TIMEOUT = 15.0  # the Twilio client's total timeout (TwilioPager)
CHECK_AFTER = timedelta(seconds=11)  # past the outbox's first check of an uncertain row (10 s)
SETTLE = timedelta(seconds=31)  # past the 30 s after an attempt when "no trace" counts
_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.TEMPORARY_FAILURE)


@dataclass
class Chain:
    """One emergency walked through the service, and what must hold at the end whatever went wrong."""

    stack: Stack
    people: People
    session: AsyncSession
    taps: int = 0  # SOS taps the volunteer made (each is answered once)

    @property
    def tg(self) -> Any:
        return self.stack.tg

    @property
    def twilio(self) -> Any:
        return self.stack.twilio

    async def on_duty(self) -> None:
        self.volunteer = await self.stack.volunteer_on_duty(self.session, self.people)
        await self.volunteer.send("/visits")

    def tap(self) -> dict[str, Any]:
        """The volunteer taps SOS on the visit list; the update Telegram makes (not yet delivered)."""
        self.taps += 1
        return self.volunteer.tap("🆘")

    async def sos(self) -> None:
        await self.stack.deliver(self.tap())

    async def paged(self, number: str = CONTACT1) -> None:
        await self.stack.paged(number)

    def page_sms(self, number: str) -> list[Record]:
        return [r for r in self.twilio.sms_to(number) if ALL_CLEAR not in (r.body or "")]

    def all_clears(self, number: str) -> list[Record]:
        return [r for r in self.twilio.sms_to(number) if ALL_CLEAR in (r.body or "")]

    async def ack_by_link(self, number: str = CONTACT1, *, times: int = 1) -> None:
        [link] = self.stack.ack_links(number)
        assert self.stack.http is not None
        for _ in range(times):
            async with self.stack.http.post(link) as response:
                assert response.status == 200, await response.text()
        assert (await self.stack.incident()).status == IncidentStatus.ACKNOWLEDGED

    async def ack_by_reply(self, number: str = CONTACT1) -> None:
        code, reply = await self.twilio.inbound_sms(number, "1")
        assert code == 200 and "<Message>" in reply
        assert (await self.stack.incident()).status == IncidentStatus.ACKNOWLEDGED

    async def past_the_next_step(self) -> None:
        """Well past the step's five minutes: an acknowledged incident pages nobody more."""
        await self.stack.tick(minutes=10)
        await self.stack.quiet()

    async def resolve(self, *, times: int = 1) -> None:
        incident = await self.stack.incident()
        coordinator = await self.stack.sign_in()
        try:
            page = await (await coordinator.get(f"/incidents/{incident.id}")).text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf, "the incident page has no form"
            form = {"csrf": csrf.group(1), "what_happened": "跌倒", "actions_taken": "联系女儿", "outcome": "已送医"}
            for n in range(times):
                async with coordinator.post(
                    f"/incidents/{incident.id}/resolve", data=form, allow_redirects=False
                ) as response:
                    if n == 0:
                        assert response.status == 303, await response.text()
                    else:  # refused, saying so: it is resolved already
                        assert response.status == 400 and "该事件已结案" in await response.text()
        finally:
            await coordinator.close()
        assert (await self.stack.incident()).status == IncidentStatus.RESOLVED

    async def restart(self) -> None:
        """The process stops; a new one starts on the same database (as `carevisit run` would be restarted)."""
        await self.stack.stop()
        await self.stack.start()

    async def settle_outbox(self, *ticks: timedelta) -> None:
        """Let the outbox come round after each move of the clock (checks of uncertain rows fall due by it)."""
        await self.stack.quiet()
        for tick in ticks:
            self.stack.clock.advance(tick)
            await self.stack.quiet()

    async def drain_chat(self) -> None:
        """Move the clock a second at a time (the sender keeps a second between two messages to one chat, backs
        off after a failure, pauses after a 429) until nothing is waiting for Telegram but the markers."""
        for _ in range(60):
            await self.stack.tick(seconds=1)
            await self.stack.chat_sender_passed()
            if not await self._chat_waiting():
                return
        raise AssertionError(f"chat messages still waiting: {await self._chat_waiting()}")

    async def _chat_waiting(self) -> list[str]:
        async with self.stack.sessions() as session:
            rows = await session.exec(
                select(ChatOutboxMessage.idempotency_key).where(
                    col(ChatOutboxMessage.status).in_(_WAITING),
                    col(ChatOutboxMessage.idempotency_key).not_like("e2e-marker:%"),
                )
            )
            return list(rows.all())

    # --- what must hold, whatever the fault ---

    async def finish(
        self, *, pages: dict[str, tuple[int, int]] | None = None, steps: int = 1, acked_by_reply: str | None = None
    ) -> None:
        """`pages`: number → (texts, calls) the service must have sent it for its step (default: contact 1 texted
        and called once); numbers not named get nothing at all. `steps`: how many steps paged someone."""
        pages = pages if pages is not None else {CONTACT1: (1, 1)}
        await self.stack.quiet()
        await self.drain_chat()
        await self.stack.quiet()

        async with self.stack.sessions() as session:
            incidents = (await session.exec(select(Incident))).all()
            assert len(incidents) == 1, f"{len(incidents)} incidents"
            assert incidents[0].status == IncidentStatus.RESOLVED

            for number in (CONTACT1, CONTACT2):
                texts, calls = pages.get(number, (0, 0))
                got = (len(self.page_sms(number)), len(self.twilio.calls_to(number)))
                assert got == (texts, calls), f"{number}: {got[0]} page texts, {got[1]} calls; want {texts}, {calls}"
                # The all-clear goes once to each number whose page text was sent and not refused as undelivered.
                delivered = texts and not any(r.status in ("undelivered", "failed") for r in self.page_sms(number))
                assert len(self.all_clears(number)) == (1 if delivered else 0), f"{number}: all-clears"
            if acked_by_reply:
                assert len(self.twilio.replies_to(acked_by_reply)) == 1, "one answer to the reply 1"

            chat = self.tg.texts(VOLUNTEER_TG)
            numbers = [m for m in chat if m.startswith("🆘")]
            contacts = [m for m in chat if CONTACT1 in m and not m.startswith(("🔔", "✅"))]
            assert (len(numbers), len(contacts)) == (self.taps, self.taps), chat[-6:]
            assert not any(APOLOGY in m for m in chat), "the volunteer got an apology"
            assert len([m for m in chat if m.startswith("🔔")]) == steps, "one notice a step"
            assert len([m for m in chat if m.startswith("✅")]) == 1, "one notice of the acknowledgement"

            stuck = (
                await session.exec(
                    select(OutboxMessage.idempotency_key, OutboxMessage.status, OutboxMessage.error_code).where(
                        col(OutboxMessage.status).in_(_WAITING)
                    )
                )
            ).all()
            assert not stuck, f"outbox rows left waiting: {stuck}"
            unhandled = (
                await session.exec(
                    select(TelegramUpdate.update_id, TelegramUpdate.error).where(
                        col(TelegramUpdate.processed_at).is_(None) | col(TelegramUpdate.error).is_not(None)
                    )
                )
            ).all()
            assert not unhandled, f"telegram updates unhandled or set aside: {unhandled}"
            assert not await self._chat_waiting()
            failed = (
                await session.exec(
                    select(ChatOutboxMessage.idempotency_key).where(ChatOutboxMessage.status == DeliveryStatus.FAILED)
                )
            ).all()
            assert not failed, f"chat messages given up: {failed}"


async def story(chain: Chain, *, ack: Callable[[], Awaitable[None]] | None = None) -> None:
    """The rest of the story once contact 1 is paged: she acknowledges, paging stops, a coordinator resolves."""
    await (ack or chain.ack_by_link)()
    await chain.past_the_next_step()
    await chain.resolve()


# --- the cases, one a (step, fault) ---


async def tap_answered_too_late(chain: Chain) -> None:
    """The tap reaches the service after Telegram's 15 s: answering it fails, the emergency and the answer don't."""
    update = chain.tap()
    await chain.stack.tick(seconds=16)
    await chain.stack.deliver(update)
    assert chain.tg.refused("answerCallbackQuery"), "the late answer was not refused"
    await chain.paged()
    await story(chain)
    await chain.finish()


async def tap_answer_5xx(chain: Chain) -> None:
    chain.tg.fail("answerCallbackQuery", server_error(502, html=True))
    await chain.sos()
    await chain.paged()
    await story(chain)
    await chain.finish()


async def tap_answer_429(chain: Chain) -> None:
    """Flood control on the answer: everything after it waits out the pause, by the clock."""
    chain.tg.fail("answerCallbackQuery", flood(2))
    await chain.sos()
    await chain.stack.tick(seconds=3)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def update_redelivered(chain: Chain) -> None:
    """Telegram posts the same update twice at once, then once more after it was handled."""
    update = chain.tap()
    statuses = await asyncio.gather(chain.stack.post_update(update), chain.stack.post_update(update))
    assert statuses == [200, 200]
    await chain.stack.deliver(update)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def update_stored_then_crash(chain: Chain) -> None:
    """The update is stored (Telegram got its 200), and the process handling the chat dies before handling it:
    its claim on the chat is left behind. The next process takes it over once the claim expires."""
    stack = chain.stack

    async def chat_unclaimed() -> bool:
        async with stack.sessions() as session:
            return await session.get(TelegramChatClaim, VOLUNTEER_TG, populate_existing=True) is None

    await eventually(chat_unclaimed, "the /visits handling to release its claim")
    async with stack.sessions() as session:
        dead = TelegramChatClaim(
            chat_id=VOLUNTEER_TG, holder="crashed:1:dead", expires_at=stack.clock.now() + CLAIM_LEASE
        )
        session.add(dead)
        await session.commit()
    update = chain.tap()
    assert await stack.post_update(update) == 200
    async with stack.sessions() as session:
        row = await session.get(TelegramUpdate, update["update_id"])
        assert row is not None and row.processed_at is None, "stored and not handled"
    await chain.restart()
    await stack.tick(seconds=CLAIM_LEASE.total_seconds() + 1)

    async def handled() -> bool:
        async with stack.sessions() as session:
            row = await session.get(TelegramUpdate, update["update_id"], populate_existing=True)
            return row is not None and row.processed_at is not None

    await eventually(handled, "the new process handling the stored update")
    await chain.paged()
    await story(chain)
    await chain.finish()


async def handler_reply_429(chain: Chain) -> None:
    """Flood control when the handler sends the numbers: they and the contacts are queued, sent after the pause."""
    chain.tg.fail("sendMessage", flood(2))
    await chain.sos()
    await chain.stack.tick(seconds=3)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def handler_reply_5xx(chain: Chain) -> None:
    """A proxy's 502 page when the handler sends the numbers: queued and sent by the chat sender."""
    chain.tg.fail("sendMessage", server_error(502, html=True))
    await chain.sos()
    await chain.paged()
    await story(chain)
    await chain.finish()


async def incident_opened_then_restart(chain: Chain) -> None:
    """The service restarts right after the tap was handled (the incident is open; paging may have begun)."""
    await chain.sos()
    await chain.restart()
    await chain.paged()
    await story(chain)
    await chain.finish()


async def incident_double_tap(chain: Chain) -> None:
    """Two taps of SOS at once (two updates): one incident; the second tap is told it is already open."""
    first, second = chain.tap(), chain.tap()
    statuses = await asyncio.gather(chain.stack.post_update(first), chain.stack.post_update(second))
    assert statuses == [200, 200]
    await chain.stack.deliver(first)
    await chain.stack.deliver(second)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def outbox_written_then_crash(chain: Chain) -> None:
    """The page's text is written and claimed; the process dies before Twilio took it (the request never got
    through). The next process reconciles: no trace, so it is sent once."""
    chain.twilio.hang_next(STOP_GRACE + 3.0, process=False, kind="sms")
    await chain.sos()
    await eventually(lambda: chain.twilio.calls_to(CONTACT1), "the call to contact 1")
    await chain.restart()
    await chain.settle_outbox(SETTLE)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def provider_5xx(chain: Chain) -> None:
    """Twilio answers 500 to the text and did not send it: uncertain, asked about, sent again once."""
    chain.twilio.fail_next(500, code=20500, kind="sms")
    await chain.sos()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await chain.paged()
    await story(chain)
    await chain.finish()


async def provider_429(chain: Chain) -> None:
    """Twilio's rate limit on the call: certainly not placed, retried."""
    chain.twilio.fail_next(429, code=20429, kind="call")
    await chain.sos()
    await chain.paged()
    await story(chain)
    await chain.finish()


async def provider_hang(chain: Chain) -> None:
    """Twilio takes the text but its answer never reaches us (our client times out): the row is reconciled through
    Twilio's list, not sent again."""
    chain.twilio.hang_next(CLIENT_TIMEOUT + 1.0, process=True, kind="sms")
    await chain.sos()
    await chain.paged()
    await chain.settle_outbox(CHECK_AFTER)
    await story(chain)
    await chain.finish()


async def provider_list_lag(chain: Chain) -> None:
    """Twilio sends the text and then answers 500; its list shows the text only 20 s later. The first check
    finds no trace yet, which must not count: the text is found later and never sent twice."""
    chain.twilio.list_lag = timedelta(seconds=20)
    chain.twilio.fail_next(500, code=20500, process=True, kind="sms")
    await chain.sos()
    await chain.paged()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await story(chain)
    await chain.finish()


async def provider_call_then_crash(chain: Chain) -> None:
    """Twilio takes the text and answers only after the stop gave up waiting: the next process reconciles it."""
    chain.twilio.hang_next(STOP_GRACE + 3.0, process=True, kind="sms")
    await chain.sos()
    await chain.paged()
    await chain.restart()
    await chain.settle_outbox(CHECK_AFTER)
    await story(chain)
    await chain.finish()


async def callback_replayed(chain: Chain) -> None:
    """Status callbacks delivered twice and out of order: the row keeps the highest, nothing is paged again."""
    await chain.sos()
    await chain.paged()
    [text] = chain.page_sms(CONTACT1)
    delivered = chain.twilio.status_callback(text.sid, "delivered")
    sent = chain.twilio.status_callback(text.sid, "sent")
    for callback in (delivered, delivered, sent):
        status, _ = await chain.twilio.deliver(callback)
        assert status == 200
    await chain.twilio.replay(delivered)
    async with chain.stack.sessions() as session:
        row = (await session.exec(select(OutboxMessage).where(OutboxMessage.provider_sid == text.sid))).one()
        assert row.status == DeliveryStatus.DELIVERED
    await story(chain)
    await chain.finish()


async def callback_failed(chain: Chain) -> None:
    """The text is undelivered and the call not answered: the step moves on at once, contact 2 is paged (once)
    and acknowledges by replying 1; contact 1 gets no all-clear for a text she never got."""
    await chain.sos()
    await chain.paged()
    [text], [call] = chain.page_sms(CONTACT1), chain.twilio.calls_to(CONTACT1)
    await chain.twilio.set_status(text.sid, "undelivered", error_code="30005")
    await chain.twilio.set_status(call.sid, "no-answer")
    await chain.paged(CONTACT2)
    await story(chain, ack=lambda: chain.ack_by_reply(CONTACT2))
    await chain.finish(pages={CONTACT1: (1, 1), CONTACT2: (1, 1)}, steps=2, acked_by_reply=CONTACT2)


async def callback_while_down(chain: Chain) -> None:
    """Twilio's callback comes while the service is down (refused twice, then dropped): nothing depends on it."""
    await chain.sos()
    await chain.paged()
    [text] = chain.page_sms(CONTACT1)
    await chain.stack.stop()
    with pytest.raises(aiohttp.ClientError):
        await chain.twilio.set_status(text.sid, "delivered")
    await chain.stack.start()
    await chain.stack.quiet()
    await story(chain)
    await chain.finish()


async def ack_link_replayed(chain: Chain) -> None:
    """The link is opened and submitted three times (a double tap, a forwarded link): one acknowledgement."""
    await chain.sos()
    await chain.paged()
    await story(chain, ack=lambda: chain.ack_by_link(times=3))
    await chain.finish()


async def ack_reply_replayed(chain: Chain) -> None:
    """The signed inbound SMS "1" arrives twice (Twilio's retry, or a replay): acted on and answered once."""

    async def reply_twice() -> None:
        callback = chain.twilio.inbound_callback(CONTACT1, "1")
        status, reply = await chain.twilio.deliver(callback)
        assert status == 200 and "<Message>" in reply
        status, reply = await chain.twilio.replay(callback)
        assert status == 200 and "<Message>" not in reply

    await chain.sos()
    await chain.paged()
    await story(chain, ack=reply_twice)
    await chain.finish(acked_by_reply=CONTACT1)


async def ack_then_restart(chain: Chain) -> None:
    """The service restarts between the acknowledgement and the next step's time: nothing more is paged."""
    await chain.sos()
    await chain.paged()

    async def ack_and_restart() -> None:
        await chain.ack_by_link()
        await chain.restart()

    await story(chain, ack=ack_and_restart)
    await chain.finish()


async def ack_while_call_uncertain(chain: Chain) -> None:
    """The call's request gets a 500 (not placed); contact 1 replies 1 to the text first. The uncertain call is
    asked about and, the incident being acknowledged, not placed again."""
    chain.twilio.fail_next(500, code=20500, kind="call")
    await chain.sos()
    await eventually(lambda: chain.page_sms(CONTACT1), "the text to contact 1")
    await chain.stack.quiet()
    await chain.ack_by_reply()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await chain.past_the_next_step()
    await chain.resolve()
    await chain.finish(pages={CONTACT1: (1, 0)}, acked_by_reply=CONTACT1)


async def all_clear_429(chain: Chain) -> None:
    await chain.sos()
    await chain.paged()
    chain.twilio.fail_next(429, code=20429, kind="sms")
    await story(chain)
    await chain.finish()


async def all_clear_5xx(chain: Chain) -> None:
    """The all-clear's request gets a 503 and was not sent: asked about, then sent once."""
    await chain.sos()
    await chain.paged()
    await chain.ack_by_link()
    await chain.past_the_next_step()
    chain.twilio.fail_next(503, kind="sms")
    await chain.resolve()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await chain.finish()


async def resolve_replayed(chain: Chain) -> None:
    """The coordinator submits the resolve form twice: one resolution, one all-clear."""
    await chain.sos()
    await chain.paged()
    await chain.ack_by_link()
    await chain.past_the_next_step()
    await chain.resolve(times=2)
    await chain.finish()


async def resolve_then_restart(chain: Chain) -> None:
    await chain.sos()
    await chain.paged()
    await chain.ack_by_link()
    await chain.past_the_next_step()
    await chain.resolve()
    await chain.restart()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await chain.finish()


async def resolve_while_page_uncertain(chain: Chain) -> None:
    """Twilio sent the text and answered 500; its list lags. Contact 1 acknowledges by the link she got and the
    coordinator resolves before the text is reconciled: she still gets the all-clear, once."""
    chain.twilio.list_lag = timedelta(seconds=20)
    chain.twilio.fail_next(500, code=20500, process=True, kind="sms")
    await chain.sos()
    await chain.paged()
    await chain.stack.quiet()
    await chain.ack_by_link()
    await chain.resolve()
    await chain.settle_outbox(CHECK_AFTER, SETTLE)
    await chain.finish()


@dataclass(frozen=True)
class Case:
    step: str
    fault: str
    run: Callable[[Chain], Awaitable[None]]

    @property
    def id(self) -> str:
        return f"{self.step.split()[0]}:{'-'.join(self.step.split()[1:])}:{self.fault.replace(' ', '')}"


def step(n: int) -> str:
    return STEPS[n - 1]


CASES = [
    Case(step(1), "late 15s", tap_answered_too_late),
    Case(step(1), "5xx", tap_answer_5xx),
    Case(step(1), "429", tap_answer_429),
    Case(step(2), "replay", update_redelivered),
    Case(step(2), "crash", update_stored_then_crash),
    Case(step(3), "429", handler_reply_429),
    Case(step(3), "5xx", handler_reply_5xx),
    Case(step(4), "crash", incident_opened_then_restart),
    Case(step(4), "double", incident_double_tap),
    Case(step(5), "crash", outbox_written_then_crash),
    Case(step(6), "5xx", provider_5xx),
    Case(step(6), "429", provider_429),
    Case(step(6), "hang", provider_hang),
    Case(step(6), "list lag", provider_list_lag),
    Case(step(6), "crash", provider_call_then_crash),
    Case(step(7), "replay", callback_replayed),
    Case(step(7), "failed", callback_failed),
    Case(step(7), "crash", callback_while_down),
    Case(step(8), "replay", ack_reply_replayed),
    Case(step(8), "double", ack_link_replayed),
    Case(step(8), "crash", ack_then_restart),
    Case(step(8), "5xx", ack_while_call_uncertain),
    Case(step(9), "429", all_clear_429),
    Case(step(9), "5xx", all_clear_5xx),
    Case(step(9), "replay", resolve_replayed),
    Case(step(9), "crash", resolve_then_restart),
    Case(step(9), "list lag", resolve_while_page_uncertain),
]
assert all(case.fault in FAULTS for case in CASES)
assert len({(case.step, case.fault) for case in CASES}) == len(CASES), "one case a cell"


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
async def test_the_emergency_chain_holds_under_the_fault(
    case: Case, stack: Stack, people: People, session: AsyncSession
) -> None:
    chain = Chain(stack, people, session)
    await chain.on_duty()
    await case.run(chain)
