"""WeComNotifier through the real client to the fake qyapi: the text and card shapes WeCom accepts, and its failures
as the Notifier port's three kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from carevisit.care.clock import FakeClock
from carevisit.care.ports import (
    TELEGRAM,
    WECOM,
    Button,
    ChatMessage,
    PermanentFailure,
    RateLimited,
    Recipient,
    TemporaryFailure,
)
from carevisit.wecom.client import WeComClient
from carevisit.wecom.notifier import WeComNotifier
from carevisit.wecom.rendering import plain_text
from tests.wecom.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWeCom

PAGE = "https://carevisit.example.cn/incidents/17"
PUBLIC_URL = "https://carevisit.example.cn"
TO = Recipient(WECOM, "zhangwei")


@pytest.fixture
async def notifier(wecom: FakeWeCom, clock: FakeClock) -> AsyncIterator[WeComNotifier]:
    async with WeComClient(CORP_ID, AGENT_ID, SECRET, wecom.api_base, clock, timeout=1.0) as client:
        yield WeComNotifier(client, public_url=PUBLIC_URL)


def incident_message(**changes: object) -> ChatMessage:
    values: dict[str, object] = {
        "to": TO,
        "text": "<b>🆘 紧急情况</b>\n王秀英 · 跌倒\n科技园社区\n志愿者：张伟",
        "buttons": ((Button("确认处理", "i:a:17"), Button("查看详情和联系人", "i:n:17")),),
        "link": PAGE,
    }
    return ChatMessage(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<b>明天</b>的探访：<i>王秀英</i>", "明天的探访：王秀英"),
        ("张&amp;李 &lt;b&gt;不是标签&lt;/b&gt;", "张&李 ＜b>不是标签＜/b>"),
        (
            '打开<a href="https://carevisit.example.cn/v">我的探访</a>',
            '打开<a href="https://carevisit.example.cn/v">我的探访</a>',
        ),
        ('<a href="javascript:alert(1)">点</a>这里', "点这里"),
    ],
)
def test_telegram_html_becomes_wecom_text(html: str, text: str) -> None:
    assert plain_text(html) == text


async def test_a_message_without_buttons_is_a_text_with_its_link(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    await notifier.send(ChatMessage(to=TO, text="<b>明天</b>探访 王秀英 &amp; 刘建国", link=PAGE))

    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.msgtype == "text"
    assert delivery.message["content"] == f"明天探访 王秀英 & 刘建国\n查看：{PAGE}"


async def test_a_long_text_is_cut_but_keeps_its_link(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    await notifier.send(ChatMessage(to=TO, text="探访" * 2000, link=PAGE))

    [delivery] = wecom.delivered_to("zhangwei")  # accepted: within WeCom's 2,048 bytes
    assert delivery.message["content"].endswith(f"…\n查看：{PAGE}")


async def test_a_message_with_buttons_is_a_card_linking_to_its_page(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    await notifier.send(incident_message())

    [delivery] = wecom.delivered_to("zhangwei")
    card = delivery.message
    assert delivery.msgtype == "template_card" and card["card_type"] == "button_interaction"
    assert card["main_title"] == {"title": "🆘 紧急情况", "desc": "王秀英 · 跌倒"}
    assert card["sub_title_text"] == "科技园社区\n志愿者：张伟"
    assert card["card_action"] == {"type": 1, "url": PAGE}
    assert card["jump_list"][0]["url"] == PAGE
    # The note button is the bot's own flow: on a card it would do nothing, the page does it.
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("确认处理", "i:a:17")]


async def test_a_message_whose_buttons_a_tap_cannot_act_on_is_a_text_with_its_link(
    notifier: WeComNotifier, wecom: FakeWeCom
) -> None:
    await notifier.send(
        ChatMessage(to=TO, text="今天有 2 次探访", buttons=((Button("我的探访", "v:list"),),), link=PAGE)
    )

    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.msgtype == "text" and delivery.message["content"] == f"今天有 2 次探访\n查看：{PAGE}"


async def test_every_card_has_its_own_task_id(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    await notifier.send(incident_message())
    await notifier.send(incident_message())  # the same message again: WeCom refuses a task_id used before

    first, second = (d.message["task_id"] for d in wecom.delivered_to("zhangwei"))
    assert first != second


async def test_a_card_whose_link_is_a_path_links_under_the_public_url(
    notifier: WeComNotifier, wecom: FakeWeCom
) -> None:
    await notifier.send(incident_message(link="/incidents/17"))

    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.message["card_action"]["url"] == PAGE


async def test_a_page_of_the_volunteer_app_opens_through_the_silent_sign_in(
    notifier: WeComNotifier, wecom: FakeWeCom
) -> None:
    await notifier.send(ChatMessage(to=TO, text="紧急情况处理进度", link="/v/incidents/17"))

    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.message["content"].endswith(f"查看：{PUBLIC_URL}/v/wecom?next=/v/incidents/17")


async def test_a_card_without_any_page_goes_as_a_text(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    """No link and no home for the member (a stranger): a card would open nothing, so a text."""
    await notifier.send(incident_message(link=None))

    [delivery] = wecom.delivered_to("zhangwei")
    assert delivery.msgtype == "text" and "查看：" not in delivery.message["content"]


async def test_long_captions_are_cut_and_at_most_six_buttons_are_sent(
    notifier: WeComNotifier, wecom: FakeWeCom
) -> None:
    buttons = tuple((Button(f"第{n}个按钮的说明文字很长", f"i:a:{n + 1}"),) for n in range(8))
    await notifier.send(incident_message(buttons=buttons))

    [delivery] = wecom.delivered_to("zhangwei")
    captions = [b["text"] for b in delivery.message["button_list"]]
    assert len(captions) == 6 and all(len(c) <= 10 for c in captions)


async def test_frequency_limit_pauses_the_sender(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    wecom.error_next(45009, path="/cgi-bin/message/send")
    with pytest.raises(RateLimited):
        await notifier.send(incident_message())


@pytest.mark.parametrize("errcode", [45033, -1])
async def test_busy_answers_are_temporary(notifier: WeComNotifier, wecom: FakeWeCom, errcode: int) -> None:
    wecom.error_next(errcode, path="/cgi-bin/message/send")
    with pytest.raises(TemporaryFailure):
        await notifier.send(ChatMessage(to=TO, text="明天探访"))


@pytest.mark.parametrize("status", [502, 0])
async def test_5xx_and_the_network_are_temporary(notifier: WeComNotifier, wecom: FakeWeCom, status: int) -> None:
    await notifier.send(ChatMessage(to=TO, text="warm-up"))  # the token fetched: the failure hits the send itself
    wecom.fail_next(status, path="/cgi-bin/message/send")
    with pytest.raises(TemporaryFailure):
        await notifier.send(ChatMessage(to=TO, text="明天探访"))


async def test_an_unknown_member_is_permanent(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    with pytest.raises(PermanentFailure):
        await notifier.send(ChatMessage(to=Recipient(WECOM, "nobody"), text="明天探访"))
    assert wecom.refusals == [81013]


async def test_an_invalid_userid_is_permanent(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    wecom.error_next(40003, path="/cgi-bin/message/send")
    with pytest.raises(PermanentFailure):
        await notifier.send(ChatMessage(to=TO, text="明天探访"))


async def test_a_telegram_recipient_is_not_sent(notifier: WeComNotifier, wecom: FakeWeCom) -> None:
    with pytest.raises(PermanentFailure):
        await notifier.send(ChatMessage(to=Recipient(TELEGRAM, "1001"), text="明天探访"))
    assert wecom.deliveries == []
