"""The providers' rules for template variables, checked against the values carevisit can put in them.

At start-up (`check_templates`, from `carevisit config check` and the service's start) every approved template is
checked once: are the kinds the deployment needs all there, and can every variable a template names hold every
value we may send? A template that cannot is an error naming its entry ([tencent.sms.coordinator_emergency] …),
found before an emergency needs it. At send time (`check_values`) the values themselves are checked, so an adapter
refuses with a clear PermanentError("template_params") instead of the provider refusing at 3 a.m.

The rules (../shared/CHANNELS.md §2; docs/providers.md for operators):

- No variable may hold a link, on either cloud (short links included). `link` is not a template variable, and a
  value that looks like an address is refused at send time.
- Aliyun: each variable 1–35 characters, of the type declared at approval (`ALIYUN_TYPES`): a phone number
  (`phone_number2`: 5–13 digits and dashes, or an 11-digit mobile), a time (`time`: hh:mm), a name, digits.
- Tencent individual-verified accounts: each variable at most 12 characters (enterprise accounts: no limit).
- One SMS segment is 70 characters including the 【sign】. The approved text is not known to us, so we can only
  add up the variables' usual lengths and warn when they alone crowd the segment.

What we decided for values longer than a limit: a person's name (`name`, `volunteer`) is cut to the limit at send
time (`fit_values`) — a Chinese name is 2–4 characters, a longer one stays recognisable from its start — and the
start-up check says so as a warning. A community name is cut only where at least 20 characters are allowed
(Aliyun's 35); under Tencent's 12 a cut one is meaningless, so a template using it is refused at start-up. Every
other variable has a known longest value and either fits or is refused at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from carevisit.escalation.notices import FALLBACKS, REQUIRED, SMS, VOICE
from carevisit.escalation.pager import PermanentError
from carevisit.escalation.pager_templates import PagerTemplates, Template

SEGMENT = 70  # characters of one SMS segment, the 【sign】 included
ALIYUN_VARIABLE = 35  # characters of one Aliyun variable
TENCENT_INDIVIDUAL_VARIABLE = 12  # characters of one variable on an individual-verified Tencent account
TENCENT_TOTAL = 500  # Tencent: the whole SMS, signature and values included
TENCENT_VOICE_SPOKEN = 350  # Tencent voice: spoken content
ACCOUNTS = ("enterprise", "individual")
_QUIET_CUT = 20
# A name or community longer than this is rare (the roster allows 100): the total-length warnings assume it.
_LONG_NAME = 20
# The fixed text of an emergency SMS needs about this much: the acknowledgement address alone is ~20 characters.
_TEXT_NEEDS = 30


@dataclass(frozen=True, slots=True)
class Variable:
    """What carevisit can put in a variable: its longest value (None: as long as the roster allows), its usual
    length (for the segment estimate), the shortest cut that still says what it should (None: never cut), and the
    shape of every value (for Aliyun's declared types)."""

    longest: int | None
    usual: int
    cut_at_least: int | None = None
    shape: str | None = None


# The values carevisit puts in each of notices.VARIABLES. Kept beside it: a new variable needs a line here too
# (test_template_rules checks both lists match).
VALUES: dict[str, Variable] = {
    "name": Variable(None, 3, cut_at_least=1),
    "volunteer": Variable(None, 3, cut_at_least=1),
    "community": Variable(None, 8, cut_at_least=20),
    "what": Variable(5, 4),  # texts: 身体不适, 跌倒, 火情, 安全问题, 疑似传染病, 紧急情况
    "code": Variable(6, 6, shape=r"\d{6}"),
    "volunteer_phone": Variable(11, 11, shape=r"1\d{10}"),
    "time": Variable(5, 5, shape=r"\d{2}:\d{2}"),
    "round": Variable(3, 1, shape=r"\d{1,3}"),
    "date": Variable(5, 5, shape=r"\d{2}-\d{2}"),
    "finding": Variable(12, 6),  # a fixed set of short phrases (发现问题，社区已跟进)
    "month": Variable(2, 2, shape=r"\d{1,2}"),
    "count": Variable(3, 1, shape=r"\d{1,3}"),
}

# The type to declare for each variable when asking Aliyun to approve a template (TemplateRule), and its rule.
ALIYUN_TYPES: dict[str, str] = {
    "name": "name",
    "volunteer": "name",
    "community": "others",
    "what": "others",
    "code": "other_number2",
    "volunteer_phone": "phone_number2",
    "time": "time",
    "round": "other_number2",
    "date": "others",  # MM-DD is not among Aliyun's time formats, which carry the year
    "finding": "others",
    "month": "other_number2",
    "count": "other_number2",
}

# What a link looks like in a value: a scheme, www., or a host with a dot before a common top-level domain.
_LINK = re.compile(
    r"(?i)(https?://|www\.|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(cn|com|net|org|ltd|top|xyz|me|ly|io|cc|info)\b)"
)
_TEMPLATE_SHAPES = {("aliyun", SMS): r"SMS_\d+", ("aliyun", VOICE): r"(TTS_\d+|[0-9a-f-]{8,}(\.wav)?)"}
_SIGN_BRACKETS = re.compile(r"[【】\[\]]")


@dataclass(frozen=True, slots=True)
class TemplateReview:
    """Errors stop the service from starting on this provider; warnings are printed and the service starts."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cut: dict[str, list[str]] = field(default_factory=dict)  # variable -> the entries where long values are cut


def required_kinds(family_reports: str) -> tuple[tuple[str, str], ...]:
    """The (channel, kind) pairs a deployment needs a template for: notices.REQUIRED, and the monthly digest
    when family reports are monthly."""
    return REQUIRED + (((SMS, "monthly_report"),) if family_reports == "monthly" else ())


def check_templates(
    templates: PagerTemplates,
    provider: str,
    *,
    kinds: tuple[tuple[str, str], ...],
    account: str = "enterprise",
    sign_name: str | None = None,
) -> list[str]:
    """Every problem that stops `provider` from sending the `kinds`, as a sentence naming the entry."""
    return review_templates(templates, provider, kinds=kinds, account=account, sign_name=sign_name).errors


def review_templates(
    templates: PagerTemplates,
    provider: str,
    *,
    kinds: tuple[tuple[str, str], ...],
    account: str = "enterprise",
    sign_name: str | None = None,
) -> TemplateReview:
    """`check_templates`' errors, and the warnings beside them (a name that may be cut, a crowded segment, a
    repeat without its own template, a family SMS without a code)."""
    if account not in ACCOUNTS:
        raise ValueError(f"account is {' or '.join(ACCOUNTS)}, not {account!r}")
    review = TemplateReview()
    review.errors.extend(f"{entry}: no approved template (needed)" for entry in templates.missing(provider, kinds))
    for template in templates.of(provider):
        _review_one(template, account, sign_name, review)
    _review_repeats(templates, provider, kinds, review)
    limit = variable_limit(provider, account)
    for name, entries in review.cut.items():
        where = entries[0] if len(entries) == 1 else f"{entries[0]} and {len(entries) - 1} more"
        review.warnings.append(
            f"{where}: a {name} longer than {limit} characters is cut to its first {limit} "
            f"({_whose_limit(provider, account)} allow {limit})"
        )
    return review


def _review_one(template: Template, account: str, sign_name: str | None, review: TemplateReview) -> None:
    entry = template.entry
    shape = _TEMPLATE_SHAPES.get((template.provider, template.channel))
    if template.provider == "tencent" and not template.template.isdigit():
        review.errors.append(f"{entry}: template = {template.template!r} is not a Tencent TemplateId (digits)")
    elif shape and not re.fullmatch(shape, template.template):
        review.errors.append(f"{entry}: template = {template.template!r} is not an Aliyun template code ({shape})")
    sign = template.sign_name or sign_name
    if sign and _SIGN_BRACKETS.search(sign):
        review.errors.append(f"{entry}: the sign name {sign!r} is given without brackets; the provider adds 【】")
    if "link" in template.params:
        review.errors.append(
            f"{entry}: no provider allows a link in a variable; put CAREVISIT_PUBLIC_URL/a in the text"
        )
    limit = variable_limit(template.provider, account)
    for name in template.params:
        _review_variable(entry, name, limit, template.provider, account, review)
    if template.provider == "aliyun" and template.channel == SMS and "volunteer_phone" in template.params:
        review.warnings.append(
            f"{entry}: Aliyun notifications may name only landline, 400 or 95 numbers; a template with a "
            "volunteer's mobile (volunteer_phone) may be refused at review"
        )
    if template.provider == "aliyun" and template.channel == VOICE and not template.ack_template:
        review.errors.append(
            f"{entry}: ack_template = the TTS code said after key 1 (IvrCall's MenuKeyMap needs one to take the key)"
        )
    if template.channel == SMS and template.kind.endswith("emergency") and "code" not in template.params:
        review.warnings.append(f"{entry}: no code: the SMS cannot be acknowledged at CAREVISIT_PUBLIC_URL/a")
    _review_length(template, sign, account, review)


def _review_variable(entry: str, name: str, limit: int | None, provider: str, account: str, r: TemplateReview) -> None:
    values = VALUES[name]
    if limit is None:
        return
    whose = _whose_limit(provider, account)
    if values.longest is not None:
        if values.longest > limit:
            r.errors.append(f"{entry}: {name} can be {values.longest} characters; {whose} allow {limit}")
        return
    if values.cut_at_least is not None and limit >= values.cut_at_least:
        if limit < _QUIET_CUT:  # a cut at Aliyun's 35 touches no real name: not worth a warning
            r.cut.setdefault(name, []).append(entry)
        return
    r.errors.append(
        f"{entry}: {name} must be shortened: its values can be longer than the {limit} characters {whose} allow, and "
        f"a cut one says nothing; leave {name} out of the template or use an account without the limit"
    )


def _whose_limit(provider: str, account: str) -> str:
    return "Aliyun's variables" if provider == "aliyun" else f"Tencent {account} accounts' variables"


def _review_length(template: Template, sign: str | None, account: str, review: TemplateReview) -> None:
    limit = variable_limit(template.provider, account)
    usual = sum(_effective(VALUES[name].usual, limit) for name in template.params)
    longest = sum(_effective(VALUES[name].longest or _LONG_NAME, limit) for name in template.params)
    if template.channel == SMS:
        framing = len(sign) + 2 if sign else 0
        if framing + usual > SEGMENT - _TEXT_NEEDS:
            review.warnings.append(
                f"{template.entry}: the sign and the variables alone usually take {framing + usual} of the "
                f"{SEGMENT} characters of one SMS; with the fixed text it may be sent (and billed) as two"
            )
        if template.provider == "tencent" and framing + longest > TENCENT_TOTAL - 100:
            review.warnings.append(
                f"{template.entry}: the variables can reach {longest} characters; Tencent refuses an SMS over "
                f"{TENCENT_TOTAL} with the text"
            )
    elif template.provider == "tencent" and longest > TENCENT_VOICE_SPOKEN - 100:
        review.warnings.append(
            f"{template.entry}: the variables can reach {longest} characters; Tencent says at most "
            f"{TENCENT_VOICE_SPOKEN} with the text"
        )


def _effective(length: int, limit: int | None) -> int:
    return length if limit is None else min(length, limit)


def _review_repeats(
    templates: PagerTemplates, provider: str, kinds: tuple[tuple[str, str], ...], review: TemplateReview
) -> None:
    """A repeat sent with its first kind's template meets the "same content"/per-template limits sooner."""
    for repeat, first in FALLBACKS.items():
        has_first = (SMS, first) in kinds and (provider, SMS, first) in templates.entries
        if has_first and (provider, SMS, repeat) not in templates.entries:
            review.warnings.append(
                f"[{provider}.sms.{repeat}]: no template of its own; repeats go with [{provider}.sms.{first}], "
                "which the per-template limits count together"
            )


def variable_limit(provider: str, account: str = "enterprise") -> int | None:
    """How many characters one variable may hold on this provider and account (None: no limit)."""
    if provider == "aliyun":
        return ALIYUN_VARIABLE
    if provider == "tencent" and account == "individual":
        return TENCENT_INDIVIDUAL_VARIABLE
    return None


def fit_values(template: Template, params: Mapping[str, str], *, account: str = "enterprise") -> dict[str, str]:
    """The params made to fit: the names that may be cut (`VALUES`) cut to the provider's limit, and the
    volunteer's phone in the 11 digits Aliyun's phone type takes (not +86…, no spaces); everything else as is."""
    limit = variable_limit(template.provider, account)
    fitted = {key: str(value) for key, value in params.items()}
    if phone := fitted.get("volunteer_phone"):
        digits = re.sub(r"\D", "", phone)
        fitted["volunteer_phone"] = digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
    if limit is None:
        return fitted
    for name in template.params:
        rule = VALUES.get(name)
        value = fitted.get(name)
        if rule and value and rule.cut_at_least is not None and limit >= rule.cut_at_least and len(value) > limit:
            fitted[name] = value[:limit]
    return fitted


def check_values(template: Template, params: Mapping[str, str], *, account: str = "enterprise") -> None:
    """Raise ValueError naming the entry and the variable for a value the provider would refuse: missing or
    empty, holding a link, longer than the account allows, or not of the shape Aliyun's declared type takes.
    The message never holds the value (it may be a name or a phone number)."""
    limit = variable_limit(template.provider, account)
    for name in template.params:
        value = params.get(name)
        where = f"{template.entry}: {name}"
        if value is None or not str(value).strip():
            raise ValueError(f"{where} is empty; the provider refuses an empty variable")
        value = str(value)
        if _LINK.search(value):
            raise ValueError(f"{where} looks like a link; no provider sends a link in a variable")
        if limit is not None and len(value) > limit:
            raise ValueError(
                f"{where} has {len(value)} characters; {_whose_limit(template.provider, account)} allow {limit}"
            )
        shape = VALUES[name].shape if name in VALUES else None
        if template.provider == "aliyun" and shape and not re.fullmatch(shape, value):
            raise ValueError(f"{where} is not of the shape its declared type ({ALIYUN_TYPES[name]}) takes")


def sendable_values(template: Template, params: Mapping[str, str], *, account: str = "enterprise") -> dict[str, str]:
    """The params as they may be sent (`fit_values`, then `check_values`); a PermanentError "template_params" for
    a value the provider would refuse — no retry can make it acceptable."""
    fitted = fit_values(template, params, account=account)
    try:
        check_values(template, fitted, account=account)
    except ValueError as error:
        raise PermanentError(str(error), code="template_params") from None
    return fitted
