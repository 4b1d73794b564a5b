"""Chat messages as WeCom shows them: the Telegram-style HTML the domain writes (<b>, <i>, <a href>) turned into WeCom
text, which renders only `<a href>` links, and a message with buttons laid out as a `button_interaction` card."""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable
from html.parser import HTMLParser

from carevisit.care.ports import ChatMessage
from carevisit.wecom.client import MAX_BUTTONS, Button, ButtonCard

TEXT_MAX_BYTES = 2048  # WeCom refuses a longer text message (45002)
BUTTON_TEXT_CHARS = 10  # WeCom advises ≤ 10: longer captions are cut on the phone anyway
LINK_LINE = "查看："
ELLIPSIS = "…"


class _PlainText(HTMLParser):
    """Text and `<a href>` links; every other tag dropped, entities resolved."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._in_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href and href.startswith(("https://", "http://")) and not self._in_link:
            self.parts.append(f'<a href="{html.escape(href)}">')
            self._in_link = True
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._in_link:
            self.parts.append("</a>")
            self._in_link = False

    def handle_data(self, data: str) -> None:
        # Unescaped user text reaches WeCom, which renders `<a …>` in a text message: a "<" someone typed must not
        # become a link, so it is shown as the full-width "＜".
        self.parts.append(data.replace("<", "＜"))


def plain_text(telegram_html: str) -> str:
    """The HTML as WeCom text: tags stripped except links, entities unescaped."""
    parser = _PlainText()
    parser.feed(telegram_html)
    parser.close()
    return "".join(parser.parts).strip()


def _without_links(text: str) -> str:
    """Card fields show no markup at all."""
    parser = _PlainText()
    parser.feed(text)
    parser.close()
    return "".join(p for p in parser.parts if not p.startswith("<a href=") and p != "</a>").strip()


def text_of(message: ChatMessage) -> str:
    """A text message's content: the text, and the page's link as a last line when the message has one."""
    last = f"\n{LINK_LINE}{message.link}" if message.link else ""
    # Cut the text, never the link: the page is where a long message can be read whole.
    return _fit_bytes(plain_text(message.text), TEXT_MAX_BYTES - len(last.encode())) + last


def card_buttons(message: ChatMessage, *, tappable: Callable[[str], bool]) -> tuple[Button, ...]:
    """The message's buttons a tap can act on (`tappable(callback data)`), as card buttons, at most six. The
    others (open a list, write a note) are what the card's page does: on a card they would do nothing."""
    return tuple(
        Button(text=_fit_chars(b.text, BUTTON_TEXT_CHARS), key=b.callback_data)
        for row in message.buttons
        for b in row
        if tappable(b.callback_data)
    )[:MAX_BUTTONS]


def card_of(message: ChatMessage, *, url: str, buttons: tuple[Button, ...]) -> ButtonCard:
    """A button card: the message's first line its title, the second its description, the rest below; each
    button's key its callback data (what the tap's EventKey brings back); `url` the page it opens."""
    lines = [line.strip() for line in _without_links(message.text).splitlines() if line.strip()]
    title = lines[0] if lines else ELLIPSIS
    return ButtonCard(
        task_id=new_task_id(),
        title=title,
        description=lines[1] if len(lines) > 1 else "",
        sub_title="\n".join(lines[2:]),
        url=url,
        buttons=buttons,
    )


def new_task_id() -> str:
    """Unique per card and app (WeCom refuses a task_id used before), within [0-9A-Za-z_-@], ≤ 128 bytes. Random:
    the tap's EventKey says which incident it is about, the task id only which card."""
    return f"cv-{secrets.token_hex(16)}"


def _fit_chars(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _fit_bytes(text: str, limit: int) -> str:
    if len(text.encode()) <= limit:
        return text
    budget = limit - len(ELLIPSIS.encode())
    cut = text.encode()[:budget].decode(errors="ignore")
    return cut + ELLIPSIS
