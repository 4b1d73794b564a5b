"""Twilio's webhooks and the acknowledgement page, as aiohttp routes on the service's one web app.

Every Twilio webhook must carry a valid X-Twilio-Signature for `PUBLIC_URL + path`; anything else gets 403 and
changes nothing. A signed request is still acted on once only: inbound SMS by `MessageSid`, keypresses by
`CallSid` (`receipts`), statuses by rank (a replayed or late one never moves a page backwards). Handlers are thin:
validate, make one domain call, answer TwiML or a small page.

The acknowledgement page never says who acknowledged (a forwarded link must not name the family): it says that
someone has, and coordinators see who in the dashboard, signed in and within their area. Some days after the
incident is resolved the link only shows a neutral "not valid" page.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from carevisit.care.access import NotAllowed
from carevisit.care.phones import mask_phone
from carevisit.escalation import acks, code_page, pager_inbound, receipts, texts, tokens
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import record_status
from carevisit.escalation.pager import provider_status
from carevisit.escalation.policy import EscalationPolicy
from carevisit.storage.models import Coordinator, Elder, EmergencyContact, Incident, OutboxMessage

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# How long after an incident is resolved its acknowledgement links still say so; after that they show nothing.
ACK_LINK_AFTER_RESOLVED = timedelta(days=7)


@dataclass(frozen=True)
class WebhookDeps:
    esc: Escalation
    validator: RequestValidator | None  # None without Twilio credentials: every webhook is refused


DEPS = web.AppKey("escalation_webhooks", WebhookDeps)
# The escalation policy in force, for entry points on the same app that open incidents (the dashboard's drills).
POLICY = web.AppKey("escalation_policy", EscalationPolicy)


def add_routes(app: web.Application, esc: Escalation, *, auth_token: str | None) -> None:
    app[DEPS] = WebhookDeps(esc, RequestValidator(auth_token) if auth_token else None)
    app[POLICY] = esc.config.policy
    app.router.add_post("/twilio/sms", signed(on_inbound_sms))
    app.router.add_post("/twilio/status", signed(on_status))
    app.router.add_post("/twilio/voice", signed(on_voice))
    app.router.add_get("/ack/{token}", ack_page)
    app.router.add_post("/ack/{token}", ack_submit)
    pager_inbound.add_routes(app, esc)
    code_page.add_code_routes(app, esc)


def signed(handler: Handler) -> Handler:
    """Refuse (403) any request whose X-Twilio-Signature does not match PUBLIC_URL + path and the form."""

    async def checked(request: web.Request) -> web.StreamResponse:
        deps = request.app[DEPS]
        form = await request.post()
        url = deps.esc.url(request.path_qs)
        signature = request.headers.get("X-Twilio-Signature", "")
        params = {k: str(v) for k, v in form.items()}
        if (
            deps.validator is None
            or url is None
            or not signature
            or not deps.validator.validate(url, params, signature)
        ):
            log.warning("refused a Twilio webhook to %s with a missing or invalid signature", request.path)
            raise web.HTTPForbidden(text="invalid signature")
        return await handler(request)

    return checked


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="application/xml")


def _outbox_id(request: web.Request) -> int | None:
    raw = request.query.get("o", "")
    return int(raw) if raw.isdigit() else None


async def on_status(request: web.Request) -> web.StreamResponse:
    """Message and call status callbacks; out-of-order ones are ignored by rank."""
    esc = request.app[DEPS].esc
    form = await request.post()
    sid = str(form.get("MessageSid") or form.get("CallSid") or "")
    status = provider_status(str(form.get("MessageStatus") or form.get("CallStatus") or ""))
    outbox_id = _outbox_id(request)
    if status is None or outbox_id is None:
        return _twiml(str(MessagingResponse()))
    async with esc.sessions() as session:
        row = await session.get(OutboxMessage, outbox_id)
        if row is None or (row.provider_sid and sid and row.provider_sid != sid):
            log.warning("status callback for outbox %s does not match its sid; ignored", outbox_id)
            return _twiml(str(MessagingResponse()))
        error = str(form.get("ErrorCode") or "") or None
        await record_status(
            session, clock=esc.clock, outbox_id=outbox_id, status=status, sid=sid or None, error_code=error
        )
        await session.commit()
    return _twiml(str(MessagingResponse()))


async def on_voice(request: web.Request) -> web.StreamResponse:
    """The page call's script (a <Gather> for one key), and the key pressed: 1 acknowledges."""
    esc = request.app[DEPS].esc
    form = await request.post()
    outbox_id = _outbox_id(request)
    response = VoiceResponse()
    async with esc.sessions() as session:
        row = await session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
        if row is None:
            response.hangup()
            return _twiml(str(response))
        language = await _row_language(session, row, esc.language)
        say_language = "zh-CN" if language == "zh_CN" else "en-US"
        digits = str(form.get("Digits") or "")
        if digits == "1":
            call_sid = str(form.get("CallSid") or "")
            try:
                if await receipts.first_time(session, clock=esc.clock, key=f"voice:{call_sid}:{digits}"):
                    await acks.by_keypress(session, clock=esc.clock, outbox_id=row.id or 0, language=esc.language)
                    await session.commit()
                else:
                    log.info("keypress for outbox %s replayed; nothing changed", row.id)
            except (IntegrityError, NotAllowed):  # a concurrent duplicate, or a page to a now read-only account
                await session.rollback()
            response.say(texts.text(language, "voice_thanks"), language=say_language)
            response.hangup()
            return _twiml(str(response))
        gather = Gather(num_digits=1, action=esc.url(f"/twilio/voice?o={row.id}"), method="POST", timeout=8)
        gather.say(row.body, language=say_language)
        gather.say(row.body, language=say_language)
        response.append(gather)
        response.say(texts.text(language, "voice_no_input"), language=say_language)
        response.hangup()
    return _twiml(str(response))


async def on_inbound_sms(request: web.Request) -> web.StreamResponse:
    """A reply: 1/OK/收到 acknowledges the open pages to that number; STOP/退订 opts out of family reports.
    Acted on once per MessageSid: a replayed request gets an empty answer and changes nothing."""
    esc = request.app[DEPS].esc
    form = await request.post()
    sender = str(form.get("From") or "")
    message_sid = str(form.get("MessageSid") or "")
    if not message_sid or not sender:
        raise web.HTTPBadRequest(text="MessageSid and From are required")
    response = MessagingResponse()
    async with esc.sessions() as session:
        try:
            if not await receipts.first_time(session, clock=esc.clock, key=f"sms:{message_sid}"):
                log.info("inbound SMS %s replayed; nothing changed", message_sid)
                return _twiml(str(response))
            outcome = await acks.by_reply(
                session, clock=esc.clock, from_number=sender, body=str(form.get("Body") or ""), language=esc.language
            )
            await session.commit()
        except IntegrityError:  # the same message delivered twice at once: the other delivery acts on it
            await session.rollback()
            return _twiml(str(response))
    log.info("inbound SMS from %s read as %s", mask_phone(sender), outcome.meaning or "nothing")
    language = texts.language_of(outcome.language, esc.language)
    if outcome.acknowledged:
        response.message(texts.sms_ack_reply(language, outcome.acknowledged))
    elif outcome.already:
        response.message(texts.text(language, "sms_ack_already"))
    return _twiml(str(response))


async def _row_language(session: AsyncSession, row: OutboxMessage, default: str) -> str:
    preferred = None
    if row.contact_id:
        contact = await session.get(EmergencyContact, row.contact_id)
        preferred = contact.language if contact else None
    elif row.coordinator_id:
        coordinator = await session.get(Coordinator, row.coordinator_id)
        preferred = coordinator.language if coordinator else None
    return texts.language_of(preferred, default)


# The acknowledgement page: one button, no script, readable on any phone browser.

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1.5em;font-size:1.2em;line-height:1.5}}
button{{font-size:1.4em;padding:.8em 1.6em;width:100%;background:#c0392b;color:#fff;border:0;border-radius:.4em}}
</style></head><body><h1>{title}</h1>{content}</body></html>"""


def ack_page_html(language: str, content: str, status: int = 200) -> web.Response:
    title = html.escape(texts.text(language, "ack_page_title"))
    body = _PAGE.format(lang="zh-CN" if language == "zh_CN" else "en", title=title, content=content)
    return web.Response(text=body, content_type="text/html", status=status)


async def _token_incident(request: web.Request) -> tuple[Escalation, tokens.AckToken | None]:
    esc = request.app[DEPS].esc
    token = tokens.verify(esc.secret, request.match_info["token"]) if esc.secret else None
    return esc, token


async def ack_page(request: web.Request) -> web.StreamResponse:
    esc, token = await _token_incident(request)
    language = esc.language
    async with esc.sessions() as session:
        incident = await _live_incident(session, esc, token)
        if incident is None:
            return _invalid(language)
        if incident.acknowledged_by or incident.resolved_by:
            return ack_page_html(language, already_acknowledged(esc, incident, language))
        facts = await incident_facts(session, incident, language)
    return ack_page_html(
        language,
        f"<p>{html.escape(facts)}</p><form method=post><button type=submit>"
        f"{html.escape(texts.text(language, 'ack_button'))}</button></form>",
    )


async def ack_submit(request: web.Request) -> web.StreamResponse:
    esc, token = await _token_incident(request)
    language = esc.language
    async with esc.sessions() as session:
        incident = await _live_incident(session, esc, token)
        if incident is None or token is None:
            return _invalid(language)
        try:
            outcome = await acks.by_token(session, clock=esc.clock, token=token, language=language)
        except NotAllowed:  # a link sent to a coordinator who has since become read-only
            return _invalid(language)
        await session.commit()
        if outcome.incident is None:
            return _invalid(language)
        if outcome.won:
            return ack_page_html(language, f"<p>{html.escape(texts.text(language, 'ack_done'))}</p>")
        return ack_page_html(language, already_acknowledged(esc, outcome.incident, language))


async def _live_incident(session: AsyncSession, esc: Escalation, token: tokens.AckToken | None) -> Incident | None:
    """The link's incident while its link still works: unknown tokens and long-resolved incidents get nothing."""
    if token is None:
        return None
    incident = await session.get(Incident, token.incident_id)
    if incident is None:
        return None
    if incident.resolved_at is not None and esc.clock.now() >= incident.resolved_at + ACK_LINK_AFTER_RESOLVED:
        return None
    return incident


def _invalid(language: str) -> web.Response:
    return ack_page_html(language, f"<p>{html.escape(texts.text(language, 'ack_invalid'))}</p>", status=404)


def already_acknowledged(esc: Escalation, incident: Incident, language: str) -> str:
    """That someone has it, and when — never who: whoever holds the link may not be family."""
    moment = incident.acknowledged_at or incident.resolved_at
    at = moment.astimezone(esc.zone).strftime("%m-%d %H:%M") if moment else ""
    staff = texts.text(language, "ack_staff")
    return (
        f"<p>{html.escape(texts.text(language, 'ack_already', at=at))}</p>"
        f'<p><a href="/incidents/{incident.id}">{html.escape(staff)}</a></p>'
    )


async def incident_facts(session: AsyncSession, incident: Incident, language: str) -> str:
    elder = await session.get(Elder, incident.elder_id)
    kind = texts.kind_label(language, "drill" if incident.is_drill else incident.kind)
    prefix = texts.tag(language, drill=incident.is_drill)
    return prefix + texts.text(language, "ack_page_body", elder=elder.name if elder else "", kind=kind)
