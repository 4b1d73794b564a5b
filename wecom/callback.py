"""The WeCom app's callback URL: `GET /wecom/callback` (URL verification) and `POST /wecom/callback` (messages and
events, CHANNELS.md §1.1).

WeCom retries a callback it has no answer to within 5 s, so a POST does only the database work in the request —
one transaction holding the effect (an acknowledgement, a link, a reply queued for the chat sender) and the
callback's `wecom_events` row — and answers "success". Greying the tapped card out (update_template_card) is a
courtesy done after the answer: if it fails, the acknowledgement stands.

Refused with nothing changed: a body over 64 KiB (413), a bad or missing signature, another corp's plaintext, a
stale timestamp, a DOCTYPE or malformed envelope (403). A replay or retry of a handled callback (the same
`dedupe_key`, unique in the table, so two processes agree) is answered 200 and changes nothing; so is an event for
another app of the corp (its AgentID not ours: several apps may share one callback URL).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import outbound
from carevisit.care.clock import Clock
from carevisit.care.ports import WECOM, Recipient
from carevisit.storage.models import Coordinator, Volunteer, WeComEvent
from carevisit.wecom import texts
from carevisit.wecom.acks import on_card_tap
from carevisit.wecom.client import WeComClient
from carevisit.wecom.crypto import DEFAULT_MAX_BODY_BYTES, CallbackCrypto, CallbackRefused, Refusal
from carevisit.wecom.events import TemplateCardEvent, TextMessage, dedupe_key, parse_event
from carevisit.wecom.events import WeComEvent as Event
from carevisit.wecom.linking import LinkOutcome, link_by_invitation, looks_like_invitation

log = logging.getLogger(__name__)

CALLBACK_PATH = "/wecom/callback"
SUCCESS = "success"


class BodyTooLarge(Exception):
    pass


@dataclass
class CallbackHandler:
    crypto: CallbackCrypto
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    client: WeComClient  # for update_template_card, after the answer
    language: str = "zh_CN"
    agent_id: int | None = None  # our app's: events naming another app are not ours to act on
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    _after: set[asyncio.Task[None]] = field(default_factory=set)

    async def verify(self, request: web.Request) -> web.Response:
        """The admin saved the callback URL: answer the decrypted echostr exactly (no quotes, BOM or newline)."""
        query = request.query
        try:
            plain = self.crypto.verify_url(
                query.get("msg_signature", ""),
                query.get("timestamp", ""),
                query.get("nonce", ""),
                query.get("echostr", ""),
            )
        except CallbackRefused as refused:
            log.warning("wecom url verification refused: %s", refused.reason.value)
            return web.Response(status=403, text="forbidden")
        return web.Response(body=plain.encode(), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
            query = request.query
            xml = self.crypto.decrypt(
                query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), body
            )
        except BodyTooLarge:
            return _refused(Refusal.TOO_LARGE)
        except CallbackRefused as refused:
            return _refused(refused.reason)
        try:
            event = parse_event(xml)
        except CallbackRefused:
            # Signed by WeCom yet not a message we can read: say so (in the log, without content) and stop retries.
            log.warning("wecom callback: an authenticated callback that is not a WeCom message")
            return web.Response(status=400, text="malformed")
        if self.agent_id is not None and event.agent_id is not None and event.agent_id != self.agent_id:
            log.info("wecom callback for another app of the corp: ignored")  # answered, so WeCom stops retrying
            return web.Response(text=SUCCESS)
        card_update = await self._handle(event)
        if card_update is not None:
            self._later(*card_update)
        return web.Response(text=SUCCESS)

    async def settled(self) -> None:
        """Wait for the card updates under way (tests, and a process about to stop)."""
        while self._after:
            await asyncio.wait(set(self._after))

    async def close(self) -> None:
        """Let card updates under way finish (a few seconds at most), then drop the rest: they are cosmetic."""
        if self._after:
            _done, pending = await asyncio.wait(set(self._after), timeout=5)
            for task in pending:
                task.cancel()

    # --- steps ---

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise BodyTooLarge
        body = bytearray()
        async for chunk in request.content.iter_chunked(8192):
            body += chunk
            if len(body) > self.max_body_bytes:  # a chunked body has no Content-Length to refuse it by
                raise BodyTooLarge
        return bytes(body)

    async def _handle(self, event: Event) -> tuple[str, str] | None:
        """The callback's effect and its wecom_events row, committed together; the card update to do after the
        answer (response code, the buttons' new caption), if any. A callback handled before changes nothing."""
        key = dedupe_key(event)
        async with self.sessions() as session:
            if (await session.exec(select(WeComEvent.id).where(WeComEvent.dedupe_key == key))).first() is not None:
                log.info("wecom callback: a repeat of one handled before, dropped")
                return None
            row = WeComEvent(dedupe_key=key, kind=_kind(event), outcome="ignored", received_at=self.clock.now())
            session.add(row)
            try:
                await session.flush()  # the unique key first: a second process handling the same callback stops here
                card_update = None
                if isinstance(event, TemplateCardEvent):
                    outcome, caption = await on_card_tap(session, clock=self.clock, event=event, language=self.language)
                    row.outcome = outcome.value
                    if caption and event.response_code:
                        card_update = (event.response_code, caption)
                elif isinstance(event, TextMessage):
                    row.outcome = await self._on_text(session, event, key)
                session.add(row)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                log.info("wecom callback: handled by another process at the same time, dropped")
                return None
        log.info("wecom callback %s: %s", row.kind, row.outcome)
        return card_update

    async def _on_text(self, session: AsyncSession, message: TextMessage, key: str) -> str:
        """An invitation code links the sender; a member not linked yet is told how to link."""
        if looks_like_invitation(message.content):
            result = await link_by_invitation(session, clock=self.clock, userid=message.userid, token=message.content)
            if result.outcome == LinkOutcome.LINKED:
                reply = texts.text(self.language, f"linked_{result.role}", name=result.name)
            else:
                reply = texts.text(self.language, result.outcome.value)
            await self._reply(session, message.userid, key, reply)
            return f"link_{result.outcome.value}"
        if not await _linked(session, message.userid):
            await self._reply(session, message.userid, key, texts.text(self.language, "help"))
            return "help"
        return "ignored"

    async def _reply(self, session: AsyncSession, userid: str, key: str, text: str) -> None:
        # Through the chat outbox: paced like every other message to this member, and sent even if WeCom is
        # unreachable right now.
        await outbound.enqueue(
            session, clock=self.clock, key=f"wecom:reply:{key}", to=Recipient(WECOM, userid), text=text
        )

    def _later(self, response_code: str, caption: str) -> None:
        task = asyncio.create_task(self._update_card(response_code, caption))
        self._after.add(task)
        task.add_done_callback(self._after.discard)

    async def _update_card(self, response_code: str, caption: str) -> None:
        try:
            await self.client.update_card(response_code, caption)
        except Exception as error:  # cosmetic: the effect is committed; the card only keeps its buttons
            log.warning("wecom card not updated: %s", type(error).__name__)


def _refused(reason: Refusal) -> web.Response:
    log.warning("wecom callback refused: %s", reason.value)  # the reason only: nothing of what was sent
    return web.Response(status=413 if reason == Refusal.TOO_LARGE else 403, text="forbidden")


async def _linked(session: AsyncSession, userid: str) -> bool:
    for model in (Volunteer, Coordinator):
        found = await session.exec(
            select(model.id).where(col(model.wecom_userid) == userid, col(model.active).is_(True))
        )
        if found.first() is not None:
            return True
    return False


def _kind(event: Event) -> str:
    if isinstance(event, TemplateCardEvent):
        return "template_card_event"
    if isinstance(event, TextMessage):
        return "text"
    return (event.event or event.msg_type or "unknown")[:32]


def add_routes(app: web.Application, handler: CallbackHandler) -> None:
    app.router.add_get(CALLBACK_PATH, handler.verify)
    app.router.add_post(CALLBACK_PATH, handler.receive)
