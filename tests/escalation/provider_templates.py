"""The approved templates of the escalation stories, in one place for the stories and the benchmark
(bench/bench_escalation.py --pager aliyun|tencent): what carevisit's templates file names for each kind, and what
the operator had approved at each cloud (the fakes are told those)."""

from __future__ import annotations

from typing import Any

from carevisit.escalation.pager_templates import PagerTemplates, parse_templates
from tests.escalation.fake_aliyun import SmsTemplate, TtsTemplate

ALIYUN_TEMPLATES: dict[str, Any] = {
    "aliyun": {
        "sms": {
            "family_emergency": {
                "template": "SMS_480000001",
                "params": ["name", "what", "volunteer", "time", "code"],
            },
            "family_emergency_repeat": {"template": "SMS_480000002", "params": ["name", "what", "round"]},
            "coordinator_emergency": {"template": "SMS_480000003", "params": ["name", "what", "community", "round"]},
            "coordinator_emergency_repeat": {"template": "SMS_480000004", "params": ["name", "community", "round"]},
            "drill": {"template": "SMS_480000005", "params": ["name", "volunteer"]},
            "all_clear": {"template": "SMS_480000006", "params": ["name"]},
        },
        "voice": {
            "family_emergency": {
                "template": "TTS_300000001",
                "params": ["name", "what"],
                "ack_template": "TTS_300000002",
                "bye_template": "TTS_300000003",
            },
            "drill": {"template": "TTS_300000004", "params": ["name"], "ack_template": "TTS_300000002"},
        },
    }
}

# What the operator had approved at Aliyun, variable for variable.
ALIYUN_REGISTERED_SMS = [
    SmsTemplate(
        "SMS_480000001",
        "${name}家中${what}，志愿者${volunteer}于${time}报告，请接听来电按1，或在care.example.cn/a输入${code}",
    ),
    SmsTemplate("SMS_480000002", "再次提醒：${name}家中${what}，第${round}次通知"),
    SmsTemplate("SMS_480000003", "${community}：${name}家中${what}，第${round}轮"),
    SmsTemplate("SMS_480000004", "${community}再次提醒：${name}，第${round}轮"),
    SmsTemplate("SMS_480000005", "演练：${name}，志愿者${volunteer}"),
    SmsTemplate("SMS_480000006", "${name}家中情况已解除"),
]
ALIYUN_REGISTERED_TTS = [
    TtsTemplate("TTS_300000001", ("name", "what")),
    TtsTemplate("TTS_300000002"),
    TtsTemplate("TTS_300000003"),
    TtsTemplate("TTS_300000004", ("name",)),
]


# Templates for what the engine sends. The link is the fixed page in the text; the one-time code is the variable
# (Tencent refuses a link in a variable).
TENCENT_STORY_SMS = {
    "2480011": "{1}老人{2}，志愿者{3}（{4}）已在现场。请打开 https://ack.example.cn/a 输入确认码{5}。",
    "2480012": "第{1}次提醒：{2}老人{3}，请联系志愿者{4}，确认码{5}。",
    "2480013": "{1}社区{2}老人{3}，第{4}轮，请跟进，确认码{5}。",
}
TENCENT_STORY_VOICE = {"2580003": "您好，{1}社区{2}老人{3}，确认请按1。"}


def tencent_templates() -> PagerTemplates:
    return parse_templates(
        {
            "tencent": {
                "sms": {
                    "family_emergency": {
                        "template": "2480011",
                        "params": ["name", "what", "volunteer", "volunteer_phone", "code"],
                    },
                    "family_emergency_repeat": {
                        "template": "2480012",
                        "params": ["round", "name", "what", "volunteer", "code"],
                    },
                    "coordinator_emergency": {
                        "template": "2480013",
                        "params": ["community", "name", "what", "round", "code"],
                    },
                    "all_clear": {"template": "2480002", "params": ["name"]},
                },
                "voice": {
                    "family_emergency": {"template": "2580001", "params": ["name", "what", "volunteer"]},
                    "coordinator_emergency": {"template": "2580003", "params": ["community", "name", "what"]},
                },
            }
        }
    )


def aliyun_templates() -> PagerTemplates:
    return parse_templates(ALIYUN_TEMPLATES)
