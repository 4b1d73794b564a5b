"""The decrypted callback XML as typed events (CHANNELS.md §1.1; WeCom docs 90240, 90376).

Only what carevisit acts on has a type: a template-card button tap (an authenticated acknowledgement: the userid
comes from WeCom, inside the encryption) and a text message. Everything else is `Unknown`, kept so the route can
answer it and drop its retries like any other callback.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from carevisit.wecom import safexml
from carevisit.wecom.crypto import CallbackRefused, Refusal


@dataclass(frozen=True, slots=True)
class SelectedItem:
    """One question's answer on a vote or multiple-choice card."""

    question_key: str
    option_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TemplateCardEvent:
    """A tap on a template card's button (Event=template_card_event)."""

    userid: str  # FromUserName: the member who tapped
    event_key: str  # the button's key as we sent it
    task_id: str  # the card's task_id as we sent it
    create_time: int
    response_code: str | None  # update_template_card's one-use credential
    card_type: str | None
    agent_id: int | None
    selected_items: tuple[SelectedItem, ...] = ()


@dataclass(frozen=True, slots=True)
class TextMessage:
    msg_id: str
    userid: str
    create_time: int
    content: str = field(repr=False)  # a member's words stay out of logs
    agent_id: int | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """Any other message or event; only what identifies it for deduplication."""

    msg_type: str
    event: str | None
    userid: str | None
    create_time: int | None
    msg_id: str | None
    event_key: str | None
    agent_id: int | None = None


WeComEvent = TemplateCardEvent | TextMessage | Unknown


def parse_event(xml: str) -> WeComEvent:
    """The event in a decrypted callback; raises CallbackRefused(MALFORMED) for XML that is not a WeCom message."""
    try:
        root = safexml.parse(xml)
    except safexml.UnsafeXml as exc:
        raise CallbackRefused(Refusal.MALFORMED, str(exc)) from None
    if root.tag != "xml":
        raise CallbackRefused(Refusal.MALFORMED, "the root is not <xml>")
    fields = _leaf_fields(root)
    msg_type = fields.get("MsgType")
    if msg_type == "event" and fields.get("Event") == "template_card_event":
        return _template_card_event(fields, root)
    if msg_type == "text":
        return _text_message(fields)
    return Unknown(
        msg_type=msg_type or "",
        event=fields.get("Event"),
        userid=fields.get("FromUserName"),
        create_time=_optional_int(fields, "CreateTime"),
        msg_id=fields.get("MsgId"),
        event_key=fields.get("EventKey"),
        agent_id=_optional_int(fields, "AgentID"),
    )


def dedupe_key(event: WeComEvent) -> str:
    """The same key for a callback and WeCom's retries of it, different keys for different callbacks.

    A message has its MsgId. An event has none: FromUserName+CreateTime+EventKey, as CHANNELS.md §1.1 says, plus the
    card's TaskId, because one member tapping "acknowledge" on two incidents' cards in the same second is two taps.
    Hashed: an EventKey may be 1,024 bytes, and the key holds no userid in the clear.
    """
    if isinstance(event, TextMessage):
        return f"msg:{event.msg_id}"
    if isinstance(event, TemplateCardEvent):
        parts: list[object] = ["template_card_event", event.userid, event.create_time, event.event_key, event.task_id]
    elif event.msg_id is not None:
        return f"msg:{event.msg_id}"
    else:
        parts = [event.msg_type, event.event, event.userid, event.create_time, event.event_key]
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return f"evt:{digest}"


def _template_card_event(fields: dict[str, str], root: ET.Element) -> TemplateCardEvent:
    return TemplateCardEvent(
        userid=_required(fields, "FromUserName"),
        event_key=_required(fields, "EventKey"),
        task_id=_required(fields, "TaskId"),
        create_time=_required_int(fields, "CreateTime"),
        response_code=fields.get("ResponseCode") or None,
        card_type=fields.get("CardType") or None,
        agent_id=_optional_int(fields, "AgentID"),
        selected_items=_selected_items(root),
    )


def _text_message(fields: dict[str, str]) -> TextMessage:
    if "Content" not in fields:
        raise CallbackRefused(Refusal.MALFORMED, "a text message without Content")
    return TextMessage(
        msg_id=_required(fields, "MsgId"),
        userid=_required(fields, "FromUserName"),
        create_time=_required_int(fields, "CreateTime"),
        content=fields["Content"],
        agent_id=_optional_int(fields, "AgentID"),
    )


def _selected_items(root: ET.Element) -> tuple[SelectedItem, ...]:
    return tuple(
        SelectedItem(
            question_key=(item.findtext("QuestionKey") or "").strip(),
            option_ids=tuple((option.text or "").strip() for option in item.iterfind("OptionIds/OptionId")),
        )
        for item in root.iterfind("SelectedItems/SelectedItem")
    )


def _leaf_fields(root: ET.Element) -> dict[str, str]:
    """The top-level elements without children, by tag. Two of one tag would make the event ambiguous."""
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            continue
        if child.tag in fields:
            raise CallbackRefused(Refusal.MALFORMED, f"two <{child.tag}>")
        fields[child.tag] = child.text or ""
    return fields


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise CallbackRefused(Refusal.MALFORMED, f"no {name}")
    return value


def _required_int(fields: dict[str, str], name: str) -> int:
    value = _optional_int(fields, name)
    if value is None:
        raise CallbackRefused(Refusal.MALFORMED, f"no {name}")
    return value


def _optional_int(fields: dict[str, str], name: str) -> int | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise CallbackRefused(Refusal.MALFORMED, f"{name} is not a number") from None
