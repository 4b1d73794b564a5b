"""The fake Bot API server keeps to Telegram's rules: each harsh behaviour checked against the real aiogram `Bot`,
with the exception aiogram raises for it, and what still succeeds beside it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from carevisit.care.clock import FakeClock
from tests.bot.fake_telegram import (
    BLOCKED,
    EDIT_NOT_FOUND,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    FakeTelegram,
    Person,
    flood,
    server_error,
)
from tests.bot.telegram_html import parse_html

CHAT = 1001


def markup(*captions: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=c, callback_data=f"data:{c}") for c in captions]]
    )


def refusal(raised: pytest.ExceptionInfo[Any]) -> str:
    return str(raised.value.message)


@pytest.fixture
def person(tg: FakeTelegram) -> Person:
    return Person(tg, CHAT, "zh-hans", None)


# Callback queries: answered once, within 15 seconds


async def test_a_tap_is_answered_within_fifteen_seconds(
    tg: FakeTelegram, bot: Bot, person: Person, clock: FakeClock
) -> None:
    update = person.tap_data("x")
    clock.advance(timedelta(seconds=15))
    assert await bot.answer_callback_query(update["callback_query"]["id"], text="好的") is True
    assert tg.alerts() == ["好的"]


async def test_an_answer_after_fifteen_seconds_is_refused(
    tg: FakeTelegram, bot: Bot, person: Person, clock: FakeClock
) -> None:
    update = person.tap_data("x")
    clock.advance(timedelta(seconds=16))  # a stored update handled after a restart or a backlog
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.answer_callback_query(update["callback_query"]["id"])
    assert refusal(raised) == QUERY_TOO_OLD
    assert tg.alerts() == []


async def test_a_query_is_answered_once_and_an_unknown_id_is_refused(
    tg: FakeTelegram, bot: Bot, person: Person
) -> None:
    query_id = person.tap_data("x")["callback_query"]["id"]
    await bot.answer_callback_query(query_id)
    for again in (query_id, "12345"):
        with pytest.raises(TelegramBadRequest) as raised:
            await bot.answer_callback_query(again)
        assert refusal(raised) == QUERY_TOO_OLD


async def test_an_alert_over_two_hundred_characters_is_refused(tg: FakeTelegram, bot: Bot, person: Person) -> None:
    query_id = person.tap_data("x")["callback_query"]["id"]
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.answer_callback_query(query_id, text="长" * 201, show_alert=True)
    assert refusal(raised) == "Bad Request: MESSAGE_TOO_LONG"
    assert await bot.answer_callback_query(query_id, text="长" * 200, show_alert=True) is True


# Edits


async def test_an_edit_to_the_same_text_and_buttons_is_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "<b>陈奶奶</b>", reply_markup=markup("确认"))
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.edit_message_text(
            "<b>陈奶奶</b>", chat_id=CHAT, message_id=sent.message_id, reply_markup=markup("确认")
        )
    assert refusal(raised) == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id, reply_markup=markup("确认"))
    assert refusal(raised) == NOT_MODIFIED
    # The same words in another style, or other buttons, are a change.
    await bot.edit_message_text("<i>陈奶奶</i>", chat_id=CHAT, message_id=sent.message_id, reply_markup=markup("确认"))
    await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id, reply_markup=None)
    with pytest.raises(TelegramBadRequest) as raised:  # no buttons left to take away
        await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id, reply_markup=None)
    assert refusal(raised) == NOT_MODIFIED
    assert tg.texts(CHAT) == ["<i>陈奶奶</i>"] and "reply_markup" not in tg.chat(CHAT)[0]


async def test_editing_an_unknown_message_or_one_of_another_chat_is_not_found(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "你好")
    for chat_id, message_id in ((CHAT, 999_999), (CHAT + 1, sent.message_id)):
        with pytest.raises(TelegramBadRequest) as raised:
            await bot.edit_message_text("改", chat_id=chat_id, message_id=message_id)
        assert refusal(raised) == EDIT_NOT_FOUND
        with pytest.raises(TelegramBadRequest):
            await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=markup("a"))


# Blocked users


async def test_a_user_who_blocked_the_bot_gets_nothing(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "你好")
    tg.block(CHAT)
    with pytest.raises(TelegramForbiddenError) as raised:
        await bot.send_message(CHAT, "还在吗")
    assert refusal(raised) == BLOCKED
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text("改", chat_id=CHAT, message_id=sent.message_id)
    await bot.send_message(CHAT + 1, "别人照常")  # others are not affected
    tg.unblock(CHAT)
    await bot.send_message(CHAT, "又开通了")
    assert tg.texts(CHAT) == ["你好", "又开通了"]


# Injected faults: 429 and 5xx on any method


async def test_a_flood_429_carries_retry_after_and_holds_until_it_has_passed(
    tg: FakeTelegram, bot: Bot, person: Person, clock: FakeClock
) -> None:
    tg.fail("editMessageText", flood(30))
    sent = await bot.send_message(CHAT, "一")
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.edit_message_text("二", chat_id=CHAT, message_id=sent.message_id)
    assert raised.value.retry_after == 30
    clock.advance(timedelta(seconds=20))
    with pytest.raises(TelegramRetryAfter) as raised:  # too early: every method is still held back
        await bot.send_message(CHAT + 1, "三")
    assert raised.value.retry_after == 10
    with pytest.raises(TelegramRetryAfter):
        await bot.answer_callback_query(person.tap_data("x")["callback_query"]["id"])
    clock.advance(timedelta(seconds=10))
    await bot.edit_message_text("二", chat_id=CHAT, message_id=sent.message_id)
    assert tg.texts(CHAT) == ["二"] and tg.texts(CHAT + 1) == []


async def test_transient_server_errors_on_any_method_then_success(tg: FakeTelegram, bot: Bot, person: Person) -> None:
    tg.fail("answerCallbackQuery", server_error(500))
    tg.fail("*", server_error(502))
    query_id = person.tap_data("x")["callback_query"]["id"]
    with pytest.raises(TelegramServerError) as raised:
        await bot.answer_callback_query(query_id)
    assert refusal(raised) == "Internal Server Error"
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert await bot.answer_callback_query(query_id) is True  # the failed call had no effect
    assert [(c.method, c.status) for c in tg.refused()] == [("answerCallbackQuery", 500), ("getMe", 502)]


async def test_a_proxys_html_error_page_is_not_json(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail("sendMessage", server_error(502, html=True))
    with pytest.raises(ClientDecodeError):
        await bot.send_message(CHAT, "你好")
    await bot.send_message(CHAT, "你好")
    assert tg.texts(CHAT) == ["你好"]


# HTML parse mode, as Telegram parses it


async def test_good_html_is_shown_as_text_with_entities(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(
        CHAT, "<b>陈&lt;奶奶&gt;</b> 科技园路1号 &amp; 2栋 &#127973; <a href='https://x.cn'>链接</a>"
    )
    assert sent.text == "陈<奶奶> 科技园路1号 & 2栋 🏥 链接"
    assert [(e.type, e.offset, e.length) for e in sent.entities or []] == [("bold", 0, 5), ("text_link", 21, 2)]
    assert tg.shown(CHAT) == [sent.text]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("陈<奶奶>", 'Unsupported start tag "奶奶" at byte offset 3'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>粗体", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>粗<i>斜</b></i>", 'Unmatched end tag at byte offset 12, expected "</i>", found "</b>"'),
        ("多余</b>", "Unexpected end tag at byte offset 6"),
        ("换行<br/>", 'Unsupported start tag "br/" at byte offset 6'),
        ("<div>块</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">剧透</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_bad_html_is_refused_as_telegram_refuses_it(tg: FakeTelegram, bot: Bot, html: str, error: str) -> None:
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(CHAT, html)
    assert refusal(raised) == f"Bad Request: can't parse entities: {error}"
    assert tg.texts(CHAT) == []
    await bot.send_message(CHAT, html, parse_mode=None)  # as plain text it is fine
    assert tg.shown(CHAT) == [html]


def test_telegrams_own_tags_parse() -> None:
    text, entities = parse_html(
        "<strong>a</strong><em>b</em><ins>c</ins><del>d</del><tg-spoiler>e</tg-spoiler><code>f</code><pre>g</pre>"
        '<blockquote expandable>h</blockquote><span class="tg-spoiler">i</span>'
    )
    assert text == "abcdefghi"
    kinds = ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "expandable_blockquote"]
    assert [e["type"] for e in entities] == [*kinds, "spoiler"]


async def test_empty_and_overlong_texts_and_callback_data_are_refused(tg: FakeTelegram, bot: Bot) -> None:
    for text, error in (("<b> </b>", "message text is empty"), ("字" * 4097, "message is too long")):
        with pytest.raises(TelegramBadRequest) as raised:
            await bot.send_message(CHAT, text)
        assert refusal(raised) == f"Bad Request: {error}"
    long_data = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="x" * 65)]])
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.send_message(CHAT, "按钮", reply_markup=long_data)
    assert refusal(raised) == "Bad Request: BUTTON_DATA_INVALID"
    await bot.send_message(CHAT, "字" * 4096, reply_markup=markup("a"))
    assert len(tg.texts(CHAT)) == 1


# getUpdates


def update(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": "hi"},
    }


async def test_get_updates_redelivers_until_a_later_offset_confirms(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_update(update(11))
    tg.push_update(update(12))
    for _ in range(2):  # a poller that crashed before storing them asks again: they are still there
        assert [u.update_id for u in await bot(GetUpdates(timeout=0))] == [11, 12]
    assert [u.update_id for u in await bot(GetUpdates(offset=12, timeout=0))] == [12]  # 11 confirmed
    assert tg.pending_updates() == [12]
    assert await bot(GetUpdates(offset=13, timeout=0)) == []
    assert tg.pending_updates() == []


async def test_a_long_poll_returns_when_an_update_arrives(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot(GetUpdates(timeout=10)))
    await asyncio.wait_for(tg.called("getUpdates"), 5)  # the poll waits at the server
    tg.push_update(update(21))
    assert [u.update_id for u in await asyncio.wait_for(poll, 5)] == [21]


async def test_get_updates_conflicts_with_a_webhook_and_with_another_poller(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("https://care.example.org/telegram/webhook")
    with pytest.raises(TelegramConflictError) as raised:
        await bot(GetUpdates(timeout=0))
    assert "webhook is active" in refusal(raised)
    await bot.delete_webhook()
    first = asyncio.create_task(bot(GetUpdates(timeout=10)))
    await asyncio.wait_for(tg.called("getUpdates", times=2), 5)
    second = asyncio.create_task(bot(GetUpdates(timeout=10)))
    with pytest.raises(TelegramConflictError) as raised:
        await asyncio.wait_for(first, 5)
    assert "terminated by other getUpdates request" in refusal(raised)
    tg.push_update(update(31))
    assert [u.update_id for u in await asyncio.wait_for(second, 5)] == [31]
