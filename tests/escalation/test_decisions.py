"""The pure decisions, as tables of cases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carevisit.care.ports import TELEGRAM, Recipient
from carevisit.escalation import texts, tokens
from carevisit.escalation.decide import Target, classify_reply, plan_next, round_of, should_move_on_early
from carevisit.escalation.policy import DEFAULT_POLICY
from carevisit.storage.enums import Channel, DeliveryStatus, PhoneKind

MOBILE = Target("contact", 1, "+8613900000001", PhoneKind.MOBILE, label="a")
LANDLINE = Target("contact", 2, "+861012345678", PhoneKind.FIXED_LINE, label="b")
COORD = Target("coordinator", 9, "+8613700000009", PhoneKind.MOBILE, chat=Recipient(TELEGRAM, "77"), label="c")


def test_step_one_texts_and_calls_contact_one() -> None:
    plan = plan_next(DEFAULT_POLICY, step=0, contacts=[MOBILE, LANDLINE], coordinators=[COORD])
    assert [(p.target.id, p.channel) for p in plan.pages] == [(1, Channel.SMS), (1, Channel.VOICE)]
    assert plan.wait == timedelta(minutes=5) and not plan.repeat


def test_a_landline_gets_only_the_call() -> None:
    plan = plan_next(DEFAULT_POLICY, step=1, contacts=[MOBILE, LANDLINE], coordinators=[COORD])
    assert [(p.target.id, p.channel) for p in plan.pages] == [(2, Channel.VOICE)]


def test_missing_contacts_are_skipped_straight_to_the_coordinators() -> None:
    plan = plan_next(DEFAULT_POLICY, step=1, contacts=[MOBILE], coordinators=[COORD])
    assert plan.step == 3 and plan.skipped == ("contact:2", "contact:3")
    assert {p.channel for p in plan.pages} == {Channel.TELEGRAM, Channel.SMS}


def test_past_the_last_step_the_coordinators_are_paged_again_at_the_repeat_interval() -> None:
    plan = plan_next(DEFAULT_POLICY, step=7, contacts=[MOBILE], coordinators=[COORD])
    assert plan.repeat and plan.step == 7 and plan.wait == DEFAULT_POLICY.repeat_every and plan.pages


def test_with_nobody_at_all_the_incident_is_still_kept_on_a_timer() -> None:
    plan = plan_next(DEFAULT_POLICY, step=0, contacts=[], coordinators=[])
    assert plan.repeat and plan.pages == () and plan.wait == DEFAULT_POLICY.repeat_every


F, D, Q = DeliveryStatus.FAILED, DeliveryStatus.DELIVERED, DeliveryStatus.QUEUED


@pytest.mark.parametrize(
    ("rows", "move_on"),
    [
        ([(Channel.SMS, F), (Channel.VOICE, Q)], False),
        ([(Channel.SMS, D), (Channel.VOICE, DeliveryStatus.NO_ANSWER)], True),
        ([(Channel.SMS, F), (Channel.VOICE, DeliveryStatus.BUSY)], True),
        ([(Channel.SMS, DeliveryStatus.UNDELIVERED)], True),
        ([(Channel.SMS, D), (Channel.VOICE, DeliveryStatus.COMPLETED)], False),
        ([], True),
    ],
)
def test_when_a_step_moves_on_early(rows: list[tuple[Channel, DeliveryStatus]], move_on: bool) -> None:
    assert should_move_on_early(rows) is move_on


@pytest.mark.parametrize(
    ("body", "meaning"),
    [
        ("1", "ack"),
        (" OK ", "ack"),
        ("收到", "ack"),
        ("收到。", "ack"),
        ("STOP", "stop"),
        ("退订", "stop"),
        ("where is she?", None),
        ("", None),
        ("11", None),
    ],
)
def test_what_an_sms_reply_means(body: str, meaning: str | None) -> None:
    assert classify_reply(body) == meaning


def test_ack_tokens_verify_only_with_the_key_and_untouched() -> None:
    token = tokens.AckToken(12, "contact", 3)
    text = tokens.sign(b"k", token)
    assert tokens.verify(b"k", text) == token
    assert tokens.verify(b"other", text) is None
    assert tokens.verify(b"k", text.replace("-k3-", "-k4-")) is None
    assert tokens.verify(b"k", "garbage") is None


def test_a_chinese_page_without_its_link_fits_one_segment() -> None:
    facts = texts.PageFacts("王秀英", "fall", "张伟", "13712345678", drill=False)
    body = texts.page_sms("zh_CN", facts, n=1, hhmm="10:00", link=None)
    assert texts.sms_segments(body) == 1
    with_link = texts.page_sms(
        "zh_CN", facts, n=1, hhmm="10:00", link="https://cv.example.cn/ack/12-k3-AAAAAAAAAAAAAAAA"
    )
    assert texts.sms_segments(with_link) <= 2
    assert texts.sms_segments(texts.all_clear("zh_CN", elder="王秀英", drill=False)) == 1


@pytest.mark.parametrize(("index", "expected"), [(0, 1), (3, 1), (4, 2), (5, 3), (9, 7)])
def test_rounds_count_the_repeats_past_the_policy_not_its_steps(index: int, expected: int) -> None:
    assert len(DEFAULT_POLICY.steps) == 4
    assert round_of(DEFAULT_POLICY, index) == expected
