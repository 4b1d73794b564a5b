"""A fake Bot API server (aiohttp) that the real aiogram `Bot` talks HTTP to, as harsh as Telegram, and people who
use it.

It keeps each chat's messages as a client would show them (edits change the message in place), so a test can
press the buttons the bot actually sent, by their caption. `texts()` is what the bot sent (its HTML source, so
tests can check escaping); `shown()` is what the user reads.

Harsh where Telegram is (each behaviour has a test against the real aiogram Bot in `test_fake_telegram.py`):
- a callback query is answered once, within 15 s of the tap by the fake's clock (the test's FakeClock): later,
  twice, or an id Telegram never issued → 400 "query is too old…";
- an edit to the same text and buttons → 400 "message is not modified…"; an unknown message, or one of another
  chat → 400 "message to edit not found";
- anything sent to a user who blocked the bot (`block`) → 403 "bot was blocked by the user";
- `parse_mode=HTML` is parsed as Telegram parses it (`telegram_html`): unsupported, unclosed or unmatched tags and
  a stray `<` → 400 "can't parse entities: …"; empty or over-long texts, callback data over 64 bytes and alerts
  over 200 characters are refused too;
- faults injected per method (`fail`): 429 with `retry_after` — until it has passed by the clock every other call
  gets 429 as well, as Telegram's flood control does — and 5xx, with a JSON body or a proxy's HTML page;
- getUpdates returns an update until a later call's offset confirms it; it refuses while a webhook is set, and a
  newer long poll ends an older one (409), as when two bot processes poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from carevisit.care.clock import Clock, SystemClock
from tests.bot.telegram_html import HtmlError, parse_html, utf16_length

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "探访助手", "username": "carevisit_test_bot"}
ANSWER_WINDOW = timedelta(seconds=15)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
BLOCKED = "Forbidden: bot was blocked by the user"
SENDS = ("sendMessage", "sendLocation", "sendPhoto")
EDITS = ("editMessageText", "editMessageReplyMarkup")
_GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


@dataclass(frozen=True, slots=True)
class Failure:
    """An error answer Telegram (or a proxy in front of it) gives."""

    status: int
    description: str
    retry_after: int | None = None
    html: bool = False  # a proxy's error page instead of Telegram's JSON

    def response(self) -> web.Response:
        if self.html:
            return web.Response(status=self.status, text=_GATEWAY_PAGE, content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def flood(retry_after: int) -> Failure:
    """Telegram's flood control: 429, try again in `retry_after` seconds."""
    return Failure(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def server_error(status: int = 502, *, html: bool = False) -> Failure:
    """A transient failure on Telegram's side (or a proxy's HTML page, `html=True`)."""
    names = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    return Failure(status, names.get(status, "Internal Server Error"), html=html)


def bad_request(description: str) -> Failure:
    return Failure(400, f"Bad Request: {description}")


class Refused(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.description)
        self.failure = failure


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200  # what the fake answered
    description: str = ""


@dataclass
class Query:
    """A callback query Telegram issued when someone pressed a button."""

    created_at: datetime
    answered: bool = False


@dataclass
class FakeTelegram:
    clock: Clock = field(default_factory=SystemClock)  # give the test's FakeClock to age callback queries
    calls: list[Call] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # message_id → message as shown
    sources: dict[int, str] = field(default_factory=dict)  # message_id → text as the bot sent it
    keyboards: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat → current reply keyboard
    queries: dict[str, Query] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    webhook_url: str | None = None
    # The older form of `fail`: (status, body) answers for the next sendMessage/sendLocation calls.
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _faults: dict[str, deque[Failure]] = field(default_factory=dict)
    _flood_until: datetime | None = None
    _updates: list[dict[str, Any]] = field(default_factory=list)  # not yet confirmed by an offset
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _polls: int = 0
    _call_made: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    # What a test makes Telegram do

    def fail(self, method: str, *failures: Failure) -> None:
        """Answer the next calls of `method` ("*": of any method) with these failures, one each, in order."""
        self._faults.setdefault(method, deque()).extend(failures)

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def push_update(self, update: dict[str, Any]) -> None:
        """An update for getUpdates: returned to every poll until a later offset confirms it."""
        self._updates.append(update)
        self._updates.sort(key=lambda u: int(u["update_id"]))
        self._arrived.set()

    async def called(self, method: str, times: int = 1) -> None:
        """Return once `method` has reached the fake `times` times in all (an event to wait on, not a sleep)."""
        async with self._call_made:
            await self._call_made.wait_for(lambda: sum(c.method == method for c in self.calls) >= times)

    def pending_updates(self) -> list[int]:
        """Update ids Telegram still holds: not yet confirmed by a getUpdates offset."""
        return [int(u["update_id"]) for u in self._updates]

    # The Bot API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params)
        self.calls.append(call)
        async with self._call_made:
            self._call_made.notify_all()
        try:
            self._injected(method)
            result = await self._result(method, params)
        except Refused as refused:
            call.status, call.description = refused.failure.status, refused.failure.description
            return refused.failure.response()
        return web.json_response({"ok": True, "result": result})

    def _injected(self, method: str) -> None:
        """Faults a test asked for, then flood control still in force."""
        for key in (method, "*"):
            queued = self._faults.get(key)
            if queued:
                failure = queued.popleft()
                if failure.retry_after is not None:
                    self._flood_until = self.clock.now() + timedelta(seconds=failure.retry_after)
                raise Refused(failure)
        now = self.clock.now()
        if method != "getUpdates" and self._flood_until is not None and now < self._flood_until:
            raise Refused(flood(math.ceil((self._flood_until - now).total_seconds())))
        if method in ("sendMessage", "sendLocation") and self.fail_next:
            status, body = self.fail_next.pop(0)
            parameters = body.get("parameters") or {}
            raise Refused(Failure(status, str(body.get("description", "")), parameters.get("retry_after")))

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        chat_id = params.get("chat_id")
        if chat_id is not None and int(chat_id) in self.blocked:
            raise Refused(Failure(403, BLOCKED))
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "setWebhook":
            self.webhook_url = str(params["url"])
            return True
        if method == "deleteWebhook":
            self.webhook_url = None
            return True
        if method in SENDS:
            return self._send(params)
        if method in EDITS:
            return self._edit(method, params)
        if method == "answerCallbackQuery":
            return self._answer(params)
        return True

    def _send(self, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(self.clock.now().timestamp()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": BOT_USER,
        }
        source = str(params.get("text", params.get("caption", "")))
        if "latitude" in params:
            message["location"] = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
        elif "text" in params or source:
            _shown(message, source, params.get("parse_mode"))
        else:
            message["text"] = ""  # a photo without a caption
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = _inline(markup)
        elif isinstance(markup, dict):  # a reply keyboard replaces the chat's keyboard, not part of the message
            self.keyboards[message["chat"]["id"]] = markup
        self.messages[message["message_id"]] = message
        self.sources[message["message_id"]] = source
        return message

    def _edit(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(int(params["message_id"]))
        if message is None or message["chat"]["id"] != int(params["chat_id"]):
            raise Refused(bad_request("message to edit not found"))
        edited = copy.deepcopy(message)
        if method == "editMessageText":
            _shown(edited, str(params["text"]), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            edited["reply_markup"] = _inline(markup)
        else:
            edited.pop("reply_markup", None)
        if _content(edited) == _content(message):
            raise Refused(Failure(400, NOT_MODIFIED))
        edited["edit_date"] = int(self.clock.now().timestamp())
        self.messages[message["message_id"]] = edited
        if method == "editMessageText":
            self.sources[message["message_id"]] = str(params["text"])
        return edited

    def _answer(self, params: dict[str, Any]) -> bool:
        query = self.queries.get(str(params["callback_query_id"]))
        if query is None or query.answered or self.clock.now() - query.created_at > ANSWER_WINDOW:
            raise Refused(Failure(400, QUERY_TOO_OLD))
        if len(str(params.get("text", ""))) > 200:
            raise Refused(bad_request("MESSAGE_TOO_LONG"))
        query.answered = True
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url is not None:
            raise Refused(
                Failure(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                    "webhook first",
                )
            )
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]  # below the offset: confirmed
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list) and allowed:
            self._updates = [u for u in self._updates if any(kind in u for kind in allowed)]
        self._polls += 1
        mine = self._polls
        self._arrived.set()  # wakes an older poll, which this one ends
        limit = int(params.get("limit") or 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            if self._polls != mine:
                raise Refused(
                    Failure(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
                        "running",
                    )
                )
            if self._updates or loop.time() >= deadline:
                return copy.deepcopy(self._updates[:limit])
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(deadline - loop.time(), 0.5))

    # What a test looks at

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["chat"]["id"] == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        """What the bot sent to the chat, as it wrote it (HTML), oldest first; edits replace the original."""
        return [self.sources[m["message_id"]] for m in self.chat(chat_id)]

    def shown(self, chat_id: int) -> list[str]:
        """What the user reads in the chat: the text after Telegram parsed the HTML."""
        return [m.get("text", "") for m in self.chat(chat_id)]

    def last_text(self, chat_id: int) -> str:
        return self.texts(chat_id)[-1]

    def alerts(self) -> list[str]:
        """Texts of the callback answers Telegram accepted."""
        return [c.params.get("text", "") for c in self.calls if c.method == "answerCallbackQuery" and c.status == 200]

    def refused(self, method: str | None = None) -> list[Call]:
        """The calls the fake answered with an error."""
        return [c for c in self.calls if c.status != 200 and (method is None or c.method == method)]

    def button(self, chat_id: int, caption: str) -> tuple[dict[str, Any], str]:
        """The newest message in the chat with an inline button whose caption contains `caption`."""
        for message in reversed(self.chat(chat_id)):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if caption in button["text"]:
                        return message, button["callback_data"]
        raise AssertionError(f"no button {caption!r} in chat {chat_id}: {self.texts(chat_id)[-3:]}")

    def reply_buttons(self, chat_id: int) -> list[str]:
        keyboard = self.keyboards.get(chat_id, {}).get("keyboard", [])
        return [b["text"] for row in keyboard for b in row]


def _shown(message: dict[str, Any], source: str, parse_mode: object) -> None:
    """Set the message's text as Telegram shows it, or refuse it as Telegram does."""
    text, entities = source, list[dict[str, Any]]()
    if parse_mode == "HTML":
        try:
            text, entities = parse_html(source)
        except HtmlError as error:
            raise Refused(bad_request(f"can't parse entities: {error}")) from None
    if not text.strip():
        raise Refused(bad_request("message text is empty"))
    if utf16_length(text) > 4096:
        raise Refused(bad_request("message is too long"))
    message["text"] = text
    if entities:
        message["entities"] = entities
    else:
        message.pop("entities", None)


def _inline(markup: dict[str, Any]) -> dict[str, Any]:
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise Refused(bad_request("BUTTON_DATA_INVALID"))
    return markup


def _content(message: dict[str, Any]) -> tuple[Any, ...]:
    return message.get("text"), message.get("entities"), message.get("reply_markup")


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        raw: dict[str, Any] = await request.json()
    else:
        raw = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    # aiogram sends nested fields (reply_markup, allowed_updates) as JSON strings inside the form.
    for key in ("reply_markup", "allowed_updates"):
        if isinstance(raw.get(key), str):
            raw[key] = json.loads(raw[key])
    return raw


_update_ids = itertools.count(1)


@dataclass
class Person:
    """Someone using Telegram: sends messages and presses buttons; updates go to `deliver`."""

    tg: FakeTelegram
    user_id: int
    language_code: str
    deliver: Any  # async (update dict) -> None
    first_name: str = "用户"

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name, "language_code": self.language_code}

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self.tg._ids),
            "date": int(self.tg.clock.now().timestamp()),
            "chat": {"id": self.user_id, "type": "private"},
            "from": self.user,
            **content,
        }

    async def send(self, text: str) -> dict[str, Any]:
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
        )
        update = {"update_id": next(_update_ids), "message": self._message(text=text, entities=entities)}
        await self.deliver(update)
        return update

    def compose(self, text: str) -> dict[str, Any]:
        """Type a message, but only build the update Telegram creates (the test decides when it arrives)."""
        return {"update_id": next(_update_ids), "message": self._message(text=text)}

    async def send_content(self, **content: Any) -> dict[str, Any]:
        update = {"update_id": next(_update_ids), "message": self._message(**content)}
        await self.deliver(update)
        return update

    async def press(self, caption: str) -> dict[str, Any]:
        message, data = self.tg.button(self.user_id, caption)
        return await self.press_data(data, message)

    async def press_data(self, data: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        update = self.tap_data(data, message)
        await self.deliver(update)
        return update

    def tap(self, caption: str) -> dict[str, Any]:
        """Press a button, but only build the update Telegram creates (the test decides when it arrives)."""
        message, data = self.tg.button(self.user_id, caption)
        return self.tap_data(data, message)

    def tap_data(self, data: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        message = copy.deepcopy(message or next(reversed(self.tg.chat(self.user_id)), None) or self._message(text=""))
        query_id = str(next(_update_ids))
        self.tg.queries[query_id] = Query(created_at=self.tg.clock.now())  # its 15 s to be answered start now
        return {
            "update_id": next(_update_ids),
            "callback_query": {
                "id": query_id,
                "from": self.user,
                "chat_instance": "ci",
                "message": message,
                "data": data,
            },
        }


WEBHOOK_SECRET = "s3cret-token_for-tests"


def visits_update(update_id: int, person: Person) -> dict[str, Any]:
    """A raw Telegram update: `person` sends /visits (what Telegram posts to the webhook or returns from getUpdates)."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1773108000,
            "chat": {"id": person.user_id, "type": "private"},
            "from": person.user,
            "text": "/visits",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
