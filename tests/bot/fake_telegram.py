"""A fake Bot API server (aiohttp) that the real aiogram `Bot` talks HTTP to, and people who use it.

It keeps each chat's messages as a client would show them (edits change the message in place), so a test can
press the buttons the bot actually sent, by their caption.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "探访助手", "username": "carevisit_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class FakeTelegram:
    calls: list[Call] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # message_id → message as shown
    updates: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (status, body) for next sends
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    keyboards: dict[int, dict[str, Any]] = field(default_factory=dict)  # chat → current reply keyboard
    server: TestServer | None = None

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

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params))
        if method in ("sendMessage", "sendLocation") and self.fail_next:
            status, body = self.fail_next.pop(0)
            return web.json_response(body, status=status)
        result = await self._result(method, params)
        return web.json_response({"ok": True, "result": result})

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            timeout = float(params.get("timeout") or 0)
            try:
                first = await asyncio.wait_for(self.updates.get(), timeout=max(timeout, 0.01))
            except TimeoutError:
                return []
            batch = [first]
            while not self.updates.empty():
                batch.append(self.updates.get_nowait())
            offset = int(params.get("offset") or 0)
            return [u for u in batch if u["update_id"] >= offset]
        if method in ("sendMessage", "sendLocation", "sendPhoto"):
            message = {
                "message_id": next(self._ids),
                "date": 1773108000,
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            elif isinstance(markup, dict):  # a reply keyboard replaces the chat's keyboard, not part of the message
                self.keyboards[message["chat"]["id"]] = markup
            self.messages[message["message_id"]] = message
            return message
        if method in ("editMessageText", "editMessageReplyMarkup"):
            message = self.messages[int(params["message_id"])]
            if "text" in params:
                message["text"] = params["text"]
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and "inline_keyboard" in markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            return message
        return True  # answerCallbackQuery, setWebhook, deleteWebhook, …

    # What a test looks at

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["chat"]["id"] == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.chat(chat_id)]

    def last_text(self, chat_id: int) -> str:
        return self.texts(chat_id)[-1]

    def alerts(self) -> list[str]:
        return [c.params.get("text", "") for c in self.calls if c.method == "answerCallbackQuery"]

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


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        raw: dict[str, Any] = await request.json()
    else:
        raw = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    # aiogram sends nested fields (reply_markup) as JSON strings inside the form.
    for key in ("reply_markup",):
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
            "date": 1773108000,
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

    async def send_content(self, **content: Any) -> dict[str, Any]:
        update = {"update_id": next(_update_ids), "message": self._message(**content)}
        await self.deliver(update)
        return update

    async def press(self, caption: str) -> dict[str, Any]:
        message, data = self.tg.button(self.user_id, caption)
        return await self.press_data(data, message)

    async def press_data(self, data: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
        message = copy.deepcopy(message or next(reversed(self.tg.chat(self.user_id)), None) or self._message(text=""))
        update = {
            "update_id": next(_update_ids),
            "callback_query": {
                "id": str(next(_update_ids)),
                "from": self.user,
                "chat_instance": "ci",
                "message": message,
                "data": data,
            },
        }
        await self.deliver(update)
        return update


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
