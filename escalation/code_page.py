"""`PUBLIC_URL/a`: acknowledging with the one-time code of a domestic SMS, which may carry no link.

GET shows a form for the code; POST /a with a valid code shows the incident's facts (as the signed-link page does,
never who was paged) and one button, which POSTs /a/ack. Wrong input of any shape gets the same answer and changes
nothing but the failure count. Wrong codes are limited per client address and for the whole service, in the
database; a valid code serves a few uses only. POSTs must come
from the page itself (Origin, else Referer, when sent, is PUBLIC_URL's), and nothing here may be cached.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care.access import NotAllowed
from carevisit.care.client_address import client_address
from carevisit.escalation import ack_codes, acks, texts, webhooks
from carevisit.escalation.context import Escalation
from carevisit.storage.models import AckCode, Incident

log = logging.getLogger(__name__)

ESCALATION = web.AppKey("ack_code_page", Escalation)
# `same-origin`, not `no-referrer`: under no-referrer a browser sends `Origin: null` with the page's own POSTs.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
_INPUT = (
    '<form method=post action="/a"><label for=code>{label}</label>'
    '<input id=code name=code type=text inputmode="numeric" autocomplete="one-time-code" required autofocus'
    ' style="font-size:2em;letter-spacing:.3em;width:100%;box-sizing:border-box;'
    'padding:.3em;margin:.5em 0 1em">'
    "<button type=submit>{submit}</button></form>"
)


def add_code_routes(app: web.Application, esc: Escalation) -> None:
    app[ESCALATION] = esc
    app.router.add_get("/a", code_form)
    app.router.add_post("/a", code_check)
    app.router.add_post("/a/ack", code_ack)


async def code_form(request: web.Request) -> web.StreamResponse:
    esc = request.app[ESCALATION]
    return _answer(esc.language, _form(esc.language, prompt=True))


async def code_check(request: web.Request) -> web.StreamResponse:
    """A code typed in: the incident's facts and the button, or the form again."""
    return await _with_code(request, acknowledge=False)


async def code_ack(request: web.Request) -> web.StreamResponse:
    """The button: acknowledges as the code's person; the first acknowledgement wins, later ones say when."""
    return await _with_code(request, acknowledge=True)


async def _with_code(request: web.Request, *, acknowledge: bool) -> web.StreamResponse:
    esc = request.app[ESCALATION]
    language = esc.language
    if not _same_origin(request, esc):
        log.warning("refused a POST to %s from another origin", request.path)
        return _answer(language, f"<p>{html.escape(texts.text(language, 'code_invalid'))}</p>", status=403)
    code = ack_codes.normalise(await _field(request, "code"))
    if esc.secret is None:  # no secret, no codes were ever sent
        return _wrong(language)
    client = ack_codes.client_key(esc.secret, _client(request))
    async with esc.sessions() as session:
        lock = await ack_codes.locked(session, clock=esc.clock, client=client)
        if lock is not None:
            return _locked(esc, lock)
        if code is None:  # cannot be anybody's code: not counted (typos are not guesses), same answer
            return _wrong(language)
        row = await ack_codes.lookup(
            session, clock=esc.clock, secret=esc.secret, code=code, after_resolved=webhooks.ACK_LINK_AFTER_RESOLVED
        )
        if row is None or not await ack_codes.use(session, row):
            lock = await ack_codes.fail(session, clock=esc.clock, client=client)
            await session.commit()
            log.info("a wrong or used-up acknowledgement code was entered")
            if lock is not None:
                log.warning("wrong acknowledgement codes: %s locked until %s", _whom(lock), lock.until.isoformat())
            return _locked(esc, lock) if lock is not None else _wrong(language)
        if acknowledge:
            answer = await _acknowledge(session, esc, row, language)
        else:
            answer = await _confirm(session, esc, row, code, language)
        await session.commit()
        return answer


async def _confirm(session: AsyncSession, esc: Escalation, row: AckCode, code: str, language: str) -> web.Response:
    incident = await session.get(Incident, row.incident_id)
    if incident is None:
        return _wrong(language)
    if incident.acknowledged_by or incident.resolved_by:
        return _answer(language, webhooks.already_acknowledged(esc, incident, language))
    facts = await webhooks.incident_facts(session, incident, language)
    return _answer(
        language,
        f'<p>{html.escape(facts)}</p><form method=post action="/a/ack">'
        f'<input type=hidden name=code value="{html.escape(code)}">'
        f"<button type=submit>{html.escape(texts.text(language, 'ack_button'))}</button></form>",
    )


async def _acknowledge(session: AsyncSession, esc: Escalation, row: AckCode, language: str) -> web.Response:
    try:
        outcome = await acks.by_code(session, clock=esc.clock, row=row, language=language)
    except NotAllowed:  # a code sent to a coordinator who has since become read-only
        await session.rollback()
        return _wrong(language)
    if outcome.incident is None:
        return _wrong(language)
    if outcome.won:
        return _answer(language, f"<p>{html.escape(texts.text(language, 'ack_done'))}</p>")
    return _answer(language, webhooks.already_acknowledged(esc, outcome.incident, language))


def _client(request: web.Request) -> str:
    """The address wrong codes are counted against: behind the reverse proxy production uses, the address the proxy
    appended last (the one a client cannot forge), as for sign-ins."""
    return client_address(request.remote, request.headers.get("X-Forwarded-For"))


def _same_origin(request: web.Request, esc: Escalation) -> bool:
    """Origin (or, without it, Referer) when the browser sends one must be the public address's own."""
    expected = _origin(esc.public_url) if esc.public_url else f"{request.scheme}://{request.host}".lower()
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() == expected
    referer = request.headers.get("Referer")
    if referer is not None:
        return _origin(referer) == expected
    return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _field(request: web.Request, name: str) -> str:
    """A form field read leniently: a body of any bytes or type gives a value or "", never an error."""
    if request.content_type != "application/x-www-form-urlencoded":
        return ""
    body = (await request.read()).decode("ascii", errors="replace")
    for key, value in parse_qsl(body, keep_blank_values=True, encoding="utf-8", errors="replace"):
        if key == name:
            return value
    return ""


def _form(language: str, *, prompt: bool) -> str:
    words = f"<p>{html.escape(texts.text(language, 'code_prompt' if prompt else 'code_invalid'))}</p>"
    return words + _INPUT.format(
        label=html.escape(texts.text(language, "code_label")), submit=html.escape(texts.text(language, "code_submit"))
    )


def _wrong(language: str) -> web.Response:
    return _answer(language, _form(language, prompt=False))


def _locked(esc: Escalation, lock: ack_codes.Lock) -> web.Response:
    at = lock.until.astimezone(esc.zone).strftime("%H:%M")
    key = "code_busy" if lock.service else "code_locked"
    response = _answer(esc.language, f"<p>{html.escape(texts.text(esc.language, key, at=at))}</p>", status=429)
    response.headers["Retry-After"] = str(max(1, int((lock.until - esc.clock.now()).total_seconds())))
    return response


def _whom(lock: ack_codes.Lock) -> str:
    return "the code page" if lock.service else "one client address"


def _answer(language: str, content: str, *, status: int = 200) -> web.Response:
    response = webhooks.ack_page_html(language, content, status=status)
    response.headers.update(_HEADERS)
    return response
