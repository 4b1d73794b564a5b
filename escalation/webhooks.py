"""Twilio's webhooks and the acknowledgement page, as aiohttp routes on the service's one web app.

Every Twilio webhook must carry a valid X-Twilio-Signature for `PUBLIC_URL + path`; anything else gets 403 and
changes nothing. Handlers are thin: validate, make one domain call, answer TwiML or a small page.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from carevisit.care.phones import mask_phone
from carevisit.escalation import acks, incidents, texts, tokens
from carevisit.escalation.context import Escalation
from carevisit.escalation.delivery import record_status
from carevisit.escalation.pager import provider_status
from carevisit.escalation.policy import EscalationPolicy
from carevisit.storage.models import Coordinator, Elder, EmergencyContact, Incident, OutboxMessage

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
            await acks.by_keypress(session, clock=esc.clock, outbox_id=row.id or 0, language=esc.language)
            await session.commit()
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
    """A reply: 1/OK/收到 acknowledges the open page to that number; STOP/退订 opts out of family reports."""
    esc = request.app[DEPS].esc
    form = await request.post()
    sender = str(form.get("From") or "")
    body = str(form.get("Body") or "")
    response = MessagingResponse()
    async with esc.sessions() as session:
        meaning, outcome = await acks.by_reply(
            session, clock=esc.clock, from_number=sender, body=body, language=esc.language
        )
        await session.commit()
    log.info("inbound SMS from %s read as %s", mask_phone(sender), meaning or "nothing")
    if outcome is not None and outcome.won:
        response.message(texts.text(esc.language, "sms_ack_reply"))
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


def _page(language: str, content: str, status: int = 200) -> web.Response:
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
    if token is None:
        return _page(language, f"<p>{html.escape(texts.text(language, 'ack_invalid'))}</p>", status=404)
    async with esc.sessions() as session:
        incident = await session.get(Incident, token.incident_id)
        if incident is None:
            return _page(language, f"<p>{html.escape(texts.text(language, 'ack_invalid'))}</p>", status=404)
        if incident.acknowledged_by or incident.resolved_by:
            return _page(language, await _already(session, esc, incident, language))
        facts = await _facts(session, incident, language)
    return _page(
        language,
        f"<p>{html.escape(facts)}</p><form method=post><button type=submit>"
        f"{html.escape(texts.text(language, 'ack_button'))}</button></form>",
    )


async def ack_submit(request: web.Request) -> web.StreamResponse:
    esc, token = await _token_incident(request)
    language = esc.language
    if token is None:
        return _page(language, f"<p>{html.escape(texts.text(language, 'ack_invalid'))}</p>", status=404)
    async with esc.sessions() as session:
        outcome = await acks.by_token(session, clock=esc.clock, token=token, language=language)
        await session.commit()
        if outcome.incident is None:
            return _page(language, f"<p>{html.escape(texts.text(language, 'ack_invalid'))}</p>", status=404)
        if outcome.won:
            return _page(language, f"<p>{html.escape(texts.text(language, 'ack_done'))}</p>")
        return _page(language, await _already(session, esc, outcome.incident, language))


async def _already(session: AsyncSession, esc: Escalation, incident: Incident, language: str) -> str:
    who = await incidents.describe_actor(session, incident.acknowledged_by or incident.resolved_by)
    moment = incident.acknowledged_at or incident.resolved_at
    at = moment.astimezone(esc.zone).strftime("%m-%d %H:%M") if moment else ""
    return f"<p>{html.escape(texts.text(language, 'ack_already', who=who, at=at))}</p>"


async def _facts(session: AsyncSession, incident: Incident, language: str) -> str:
    elder = await session.get(Elder, incident.elder_id)
    kind = texts.kind_label(language, "drill" if incident.is_drill else incident.kind)
    prefix = texts.tag(language, drill=incident.is_drill)
    return prefix + texts.text(language, "ack_page_body", elder=elder.name if elder else "", kind=kind)
