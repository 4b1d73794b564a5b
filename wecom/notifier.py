"""`WeComNotifier`: the domain's `Notifier` port on WeCom, for `ChatMessage`s to `Recipient(WECOM, userid)`.

A message without buttons goes as a text message (with its page's link as a last line); one with an Acknowledge
button as a `button_interaction` card whose taps come back to /wecom/callback. Buttons a tap cannot act on from
WeCom (open a list, write a note: the bot's own flows) are left off — the page the message links to does them.
Every message links to its page (`wecom.links`: a path made absolute against PUBLIC_URL, a page of the volunteer app
through its silent sign-in; without a link, the home of the member, `home_of`): members who read WeCom inside plain
WeChat (微工作台) see no card at all, only the notification that opens the link.

WeCom's answers become the port's three failures: frequency limits (45009) pause the sender; 45033, -1 (busy), 5xx
and the network are worth another try; an unknown member (81013, 40003) never will be. Pacing (≤ 30 a minute per
member, which WeCom enforces by dropping the excess in silence) is the chat sender's, with `WECOM_LIMITS`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from carevisit.care.ports import (
    WECOM,
    ChatMessage,
    PermanentFailure,
    RateLimited,
    TemporaryFailure,
)
from carevisit.fieldwork.notices import incident_of_ack
from carevisit.wecom.client import FREQUENCY_LIMIT, WeComClient
from carevisit.wecom.errors import WeComNotProcessed, WeComPermanentError, WeComTemporaryError
from carevisit.wecom.links import absolute
from carevisit.wecom.rendering import card_buttons, card_of, text_of

log = logging.getLogger(__name__)

FREQUENCY_PAUSE = 60.0  # seconds: WeCom's API limits are counted per minute


HomeOf = Callable[[str], Awaitable[str | None]]  # a member's home page (a path) by userid; None for a stranger


class WeComNotifier:
    def __init__(self, client: WeComClient, *, public_url: str | None = None, home_of: HomeOf | None = None) -> None:
        self._client = client
        self._public_url = public_url
        self._home_of = home_of

    async def send(self, message: ChatMessage) -> None:
        if message.to.channel != WECOM:
            raise PermanentFailure(f"not a WeCom recipient ({message.to.channel})")
        userid = message.to.id
        url = await self._url(message)
        message = replace(message, link=url)
        buttons = card_buttons(message, tappable=lambda data: incident_of_ack(data) is not None)
        try:
            if buttons and url:
                result = await self._client.send_card([userid], card_of(message, url=url, buttons=buttons))
            else:
                # Nothing a tap could do, or no page for the card to open (a member in 微工作台 sees no card): a text.
                result = await self._client.send_text([userid], text_of(message))
        except WeComNotProcessed as error:
            if error.errcode == FREQUENCY_LIMIT:
                raise RateLimited(FREQUENCY_PAUSE) from None
            raise TemporaryFailure(str(error)) from None
        except WeComTemporaryError as error:
            raise TemporaryFailure(str(error)) from None
        except WeComPermanentError as error:
            raise PermanentFailure(str(error)) from None
        if userid in result.invalid_users:
            raise PermanentFailure("the userid is not a member WeCom knows")

    async def _url(self, message: ChatMessage) -> str | None:
        link = message.link
        if link is None and self._home_of is not None:
            link = await self._home_of(message.to.id)
        return absolute(link, self._public_url) if link else None
