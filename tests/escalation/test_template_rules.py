"""The providers' template rules, checked at start-up against what carevisit can put in each variable and at send
time against the values themselves; and the shipped example templates file passes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carevisit import config
from carevisit.escalation.notices import KINDS, REQUIRED, SMS, VARIABLES, VOICE
from carevisit.escalation.pager_templates import PagerTemplates, Template, load_templates, parse_templates
from carevisit.escalation.template_rules import (
    ALIYUN_TYPES,
    VALUES,
    check_templates,
    check_values,
    fit_values,
    required_kinds,
    review_templates,
)

EXAMPLE = Path(config.__file__).resolve().parent / "pager_templates.example.toml"
EVERYTHING = tuple(KINDS)


def templates(provider: str, entries: dict[str, dict[str, object]]) -> PagerTemplates:
    """A templates file with `entries` ("sms.family_emergency": {...}) for one provider."""
    data: dict[str, dict[str, dict[str, object]]] = {}
    for key, raw in entries.items():
        channel, kind = key.split(".")
        data.setdefault(channel, {})[kind] = raw
    return parse_templates({provider: data})


def complete(provider: str, **changes: dict[str, object]) -> PagerTemplates:
    """Every required kind, with plain ids and no variables, and `changes` over them."""
    number = iter(range(100, 200))
    entries: dict[str, dict[str, object]] = {}
    for channel, kind in REQUIRED:
        if provider == "aliyun":
            code = f"{'SMS' if channel == SMS else 'TTS'}_{next(number)}"
            entries[f"{channel}.{kind}"] = {"template": code}
            if channel == VOICE:
                entries[f"{channel}.{kind}"]["ack_template"] = "TTS_1"
        else:
            entries[f"{channel}.{kind}"] = {"template": str(next(number))}
    for key, raw in changes.items():
        entries[key.replace("__", ".")] = {**entries.get(key.replace("__", "."), {}), **raw}
    return templates(provider, entries)


def test_every_variable_has_its_values_and_its_aliyun_type() -> None:
    assert set(VALUES) == set(VARIABLES) == set(ALIYUN_TYPES)
    assert "link" not in VARIABLES


def test_the_example_file_parses_and_passes_for_both_providers() -> None:
    loaded = load_templates(EXAMPLE)
    for provider in ("aliyun", "tencent"):
        assert check_templates(loaded, provider, kinds=required_kinds("monthly")) == [], provider
        assert loaded.missing(provider, EVERYTHING) == [], provider
        review = review_templates(loaded, provider, kinds=required_kinds("each_visit"), sign_name="探访关爱")
        assert review.errors == [], provider
        # The repeats have templates of their own, and every emergency SMS carries a code.
        assert not [w for w in review.warnings if "no template of its own" in w or "no code" in w], review.warnings


def test_the_example_on_an_individual_tencent_account_refuses_the_community_and_warns_of_cut_names() -> None:
    review = review_templates(load_templates(EXAMPLE), "tencent", kinds=REQUIRED, account="individual")
    assert review.errors and all("community must be shortened" in e for e in review.errors)
    assert any(e.startswith("[tencent.sms.coordinator_emergency]: community") for e in review.errors)
    assert "[tencent.sms.all_clear] and 11 more: a name longer than 12 characters is cut to its first 12" in "\n".join(
        review.warnings
    )


def test_missing_kinds_are_named_and_monthly_reports_need_their_template() -> None:
    partial = templates("tencent", {"sms.family_emergency": {"template": "1"}})
    problems = check_templates(partial, "tencent", kinds=required_kinds("monthly"))
    assert "[tencent.sms.coordinator_emergency]: no approved template (needed)" in problems
    assert "[tencent.voice.family_emergency]: no approved template (needed)" in problems
    assert "[tencent.sms.monthly_report]: no approved template (needed)" in problems
    assert "[tencent.sms.family_emergency]: no approved template (needed)" not in problems
    assert check_templates(complete("tencent"), "tencent", kinds=required_kinds("each_visit")) == []
    assert check_templates(complete("tencent"), "tencent", kinds=required_kinds("monthly")) == [
        "[tencent.sms.monthly_report]: no approved template (needed)"
    ]


@pytest.mark.parametrize(
    ("provider", "account", "changes", "problem"),
    [
        # Tencent individual accounts: 12 characters a variable; community names are longer and say nothing cut.
        (
            "tencent",
            "individual",
            {"sms__coordinator_emergency": {"params": ["community", "code"]}},
            "[tencent.sms.coordinator_emergency]: community must be shortened",
        ),
        # Aliyun allows 35, at which a community name can be cut and still say where.
        ("aliyun", "enterprise", {"sms__coordinator_emergency": {"params": ["community", "code"]}}, None),
        # An enterprise Tencent account has no per-variable limit.
        ("tencent", "enterprise", {"sms__coordinator_emergency": {"params": ["community", "code"]}}, None),
        # Ids of the wrong shape.
        (
            "tencent",
            "enterprise",
            {"sms__all_clear": {"template": "SMS_1"}},
            "[tencent.sms.all_clear]: template = 'SMS_1' is not a Tencent TemplateId",
        ),
        (
            "aliyun",
            "enterprise",
            {"sms__all_clear": {"template": "2480001"}},
            "[aliyun.sms.all_clear]: template = '2480001' is not an Aliyun template code",
        ),
        # An Aliyun press-1 call needs the TTS said after the key.
        (
            "aliyun",
            "enterprise",
            {"voice__drill": {"template": "TTS_9"}},
            "[aliyun.voice.drill]: ack_template = the TTS code said after key 1",
        ),
        (
            "tencent",
            "enterprise",
            {"sms__drill": {"sign_name": "【探访关爱】"}},
            "[tencent.sms.drill]: the sign name '【探访关爱】' is given without brackets",
        ),
    ],
)
def test_a_template_the_rules_refuse_is_named_at_start_up(
    provider: str, account: str, changes: dict[str, dict[str, object]], problem: str | None
) -> None:
    problems = check_templates(complete(provider, **changes), provider, kinds=REQUIRED, account=account)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_a_link_can_never_be_a_template_variable() -> None:
    with pytest.raises(ValueError, match="'link' is not a variable"):
        templates("aliyun", {"sms.family_emergency": {"template": "SMS_1", "params": ["name", "link"]}})


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"sms__family_emergency": {"params": ["name"]}}, "[aliyun.sms.family_emergency]: no code"),
        (
            {"sms__family_emergency": {"params": ["volunteer_phone", "code"]}},
            "[aliyun.sms.family_emergency]: Aliyun notifications may name only landline, 400 or 95 numbers",
        ),
        ({}, "[aliyun.sms.family_emergency_repeat]: no template of its own"),
        (
            {
                "sms__coordinator_emergency": {
                    "params": ["community", "name", "what", "volunteer", "volunteer_phone", "round", "code"]
                }
            },
            "[aliyun.sms.coordinator_emergency]: the sign and the variables alone usually take 42 of the 70",
        ),
    ],
)
def test_warnings_say_what_will_work_worse(changes: dict[str, dict[str, object]], warning: str) -> None:
    review = review_templates(complete("aliyun", **changes), "aliyun", kinds=REQUIRED, sign_name="探访关爱")
    assert review.errors == []
    assert any(w.startswith(warning) for w in review.warnings), review.warnings


# -- at send time ------------------------------------------------------------------------------------------------


def template(provider: str, *params: str, channel: str = SMS, kind: str = "family_emergency") -> Template:
    return Template(provider, channel, kind, "SMS_1" if provider == "aliyun" else "1", tuple(params))


GOOD = {
    "name": "张秀英",
    "what": "跌倒",
    "volunteer": "李明",
    "volunteer_phone": "13800138000",
    "time": "09:05",
    "round": "2",
    "code": "482913",
    "community": "朝阳区建外街道永安里社区",
    "date": "12-01",
}


@pytest.mark.parametrize(
    ("provider", "account", "params", "changes", "message"),
    [
        ("aliyun", "enterprise", ("name", "code", "time"), {}, None),
        ("tencent", "individual", ("name", "code", "time"), {}, None),
        (
            "aliyun",
            "enterprise",
            ("name", "code"),
            {"name": "请访问 https://evil.example.com"},
            "name looks like a link",
        ),
        ("tencent", "enterprise", ("name", "code"), {"name": "t.cn/A6x"}, "name looks like a link"),
        ("tencent", "enterprise", ("name", "code"), {"name": "www.x"}, "name looks like a link"),
        (
            "tencent",
            "individual",
            ("community",),
            {"community": "永安里社区居民委员会第一网格"},
            "community has 14 characters",
        ),
        ("tencent", "individual", ("name",), {"name": "阿卜杜热合曼·买买提江·艾力"}, "name has 14 characters"),
        ("aliyun", "enterprise", ("name", "code"), {"code": ""}, "code is empty"),
        ("aliyun", "enterprise", ("name", "round"), {"round": None}, "round is empty"),
        (
            "aliyun",
            "enterprise",
            ("volunteer_phone",),
            {"volunteer_phone": "+86 138 0013 8000"},
            "volunteer_phone is not",
        ),
        ("aliyun", "enterprise", ("time",), {"time": "9点5分"}, "time is not of the shape its declared type (time)"),
        ("tencent", "enterprise", ("time",), {"time": "9点5分"}, None),
    ],
)
def test_check_values_refuses_what_the_provider_would(
    provider: str, account: str, params: tuple[str, ...], changes: dict[str, str | None], message: str | None
) -> None:
    values = {k: v for k, v in (GOOD | changes).items() if v is not None}
    entry = template(provider, *params)
    if message is None:
        check_values(entry, values, account=account)
        return
    with pytest.raises(ValueError) as caught:
        check_values(entry, values, account=account)
    assert message in str(caught.value)
    assert str(caught.value).startswith(entry.entry)
    for value in values.values():  # never a name or a number in the message
        assert len(value) < 5 or value not in str(caught.value)


def test_fit_values_cuts_names_not_codes_and_makes_the_phone_fit_aliyun() -> None:
    long_name = "阿卜杜热合曼·买买提江·艾力"
    entry = template("tencent", "name", "code")
    fitted = fit_values(entry, GOOD | {"name": long_name}, account="individual")
    assert fitted["name"] == long_name[:12] and fitted["code"] == GOOD["code"]
    check_values(entry, fitted, account="individual")
    # An enterprise account takes the whole name.
    assert fit_values(entry, GOOD | {"name": long_name})["name"] == long_name
    # A community is not cut to 12: it stays too long, and check_values refuses it.
    community = template("tencent", "community")
    too_long = fit_values(community, GOOD | {"community": "永安里社区居民委员会第一网格"}, account="individual")
    with pytest.raises(ValueError, match="community has 14 characters"):
        check_values(community, too_long, account="individual")
    phone = template("aliyun", "volunteer_phone")
    fitted = fit_values(phone, {"volunteer_phone": "+86 138-0013-8000"})
    assert fitted["volunteer_phone"] == "13800138000"
    check_values(phone, fitted)


def test_an_unknown_account_kind_is_an_error() -> None:
    with pytest.raises(ValueError, match="enterprise or individual"):
        check_templates(complete("tencent"), "tencent", kinds=REQUIRED, account="personal")


def test_the_wordings_in_docs_are_those_of_the_example_file() -> None:
    """docs/providers.md gives operators each wording to get approved; the example file names the same ones."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "providers.md").read_text(encoding="utf-8")
    example = EXAMPLE.read_text(encoding="utf-8")
    shown = {line.split(":", 1)[1].strip() for line in docs.splitlines() if line.startswith("    Aliyun:  ")}
    commented = set()
    for block in example.split("\n[aliyun.")[1:]:
        commented.add(block.split("\n", 2)[1].removeprefix("# "))
    assert shown and shown == commented
    for wording in shown:  # text between any two variables, and no brackets
        assert "}${" not in wording and not set("【】[]「」") & set(wording), wording


def test_each_example_sms_fits_one_segment_with_a_four_character_sign() -> None:
    loaded = load_templates(EXAMPLE)
    example = EXAMPLE.read_text(encoding="utf-8")
    for (provider, channel, kind), entry in loaded.entries.items():
        if provider != "aliyun" or channel != SMS:
            continue
        wording = example.split(f"[aliyun.sms.{kind}]\n# ", 1)[1].split("\n", 1)[0]
        fixed = re.sub(r"\$\{\w+\}", "", wording)
        values = sum(VALUES[name].longest or VALUES[name].usual for name in entry.params)
        assert len("【探访关爱】") + len(fixed) + values <= 70, kind
