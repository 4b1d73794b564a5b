"""Whether the pager in use can page as the escalation policy asks: its settings, its SDK, its approved templates,
and the policy against its frequency limits. `carevisit config check` prints these; the service's start can refuse
on the errors the same way (docs/providers.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from carevisit.config import Settings
from carevisit.escalation.config_file import EscalationConfig, PolicyFileError
from carevisit.escalation.pager_templates import TemplateFileError, load_templates
from carevisit.escalation.provider_limits import LimitsFileError, load_limits, policy_refusals
from carevisit.escalation.template_rules import required_kinds, review_templates
from carevisit.policies import escalation_config
from carevisit.storage.enums import Channel

DOMESTIC = ("aliyun", "tencent")
WHAT_IT_SENDS = {
    "twilio": "Twilio SMS and calls",
    "aliyun": "Aliyun SMS (dysmsapi) and calls (dyvmsapi IvrCall)",
    "tencent": "Tencent SMS and calls (vms SendTtsVoice)",
    "console": "nothing is sent: SMS and calls are only logged",
}


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def pager_findings(settings: Settings) -> Findings:
    """What stops the pager in use from paging as the escalation policy asks (errors), and what will work worse
    than the policy says (warnings)."""
    found = Findings()
    pager = settings.pager_in_use
    try:
        policy = escalation_config(settings)
    except PolicyFileError as error:
        found.errors.append(str(error))
        return found
    if pager in DOMESTIC:
        _check_sdk(pager, found)
        _check_voice_settings(settings, policy, found)
        _check_templates(settings, policy, found)
    _check_limits(settings, policy, found)
    return found


def _check_sdk(pager: str, found: Findings) -> None:
    # The adapter's own `available()` is what make_pager goes by, so config check and `carevisit run` never disagree.
    if not _adapter(pager).available():
        found.errors.append(f"CAREVISIT_PAGER={pager} needs its SDK: pip install 'carevisit[{pager}]'")


def push_types(pager: str) -> tuple[str, ...]:
    """What a domestic provider pushes to /pager/<pager>/<secret>/<push type>, as its adapter receives it."""
    from carevisit.escalation.aliyun_pager import AliyunPager
    from carevisit.escalation.tencent_pager import TencentPager

    return (AliyunPager if pager == "aliyun" else TencentPager).push_types


def _adapter(pager: str) -> Any:
    from carevisit.escalation import aliyun_pager, tencent_pager  # neither imports its SDK until a pager is made

    return aliyun_pager if pager == "aliyun" else tencent_pager


def _check_voice_settings(settings: Settings, config: EscalationConfig, found: Findings) -> None:
    calls = any(Channel.VOICE in step.channels for step in config.policy.steps)
    if not calls:
        return
    if settings.pager_in_use == "tencent" and not settings.tencent_voice_app_id:
        found.errors.append("the escalation policy calls: CAREVISIT_PAGER=tencent needs CAREVISIT_TENCENT_VOICE_APP_ID")
    if settings.pager_in_use == "aliyun" and not settings.aliyun_called_show_number:
        found.errors.append(
            "the escalation policy calls: press-1 calls (IvrCall) need the purchased number they call from, "
            "CAREVISIT_ALIYUN_CALLED_SHOW_NUMBER"
        )


def _check_templates(settings: Settings, config: EscalationConfig, found: Findings) -> None:
    pager = settings.pager_in_use
    if settings.pager_templates_file is None:
        return  # the settings' own check already named CAREVISIT_PAGER_TEMPLATES_FILE
    try:
        templates = load_templates(settings.pager_templates_file)
    except TemplateFileError as error:
        found.errors.append(str(error))
        return
    review = review_templates(
        templates,
        pager,
        kinds=required_kinds(config.family_reports),
        account=settings.tencent_account if pager == "tencent" else "enterprise",
        sign_name=settings.aliyun_sign_name if pager == "aliyun" else settings.tencent_sign_name,
    )
    found.errors.extend(review.errors)
    found.warnings.extend(review.warnings)


def _check_limits(settings: Settings, config: EscalationConfig, found: Findings) -> None:
    try:
        limits = load_limits(settings.pager_in_use, settings.pager_limits_file)
    except LimitsFileError as error:
        found.errors.append(str(error))
        return
    refusals = policy_refusals(config.policy, limits)
    for refusal, more in refusals:
        # Round 1 is the chain itself: someone it names could not be paged once. A refused repeat is recorded as
        # refused and the chain goes on, so it is a warning.
        (found.errors if refusal.round == 1 else found.warnings).append(refusal.sentence(more))
    if refusals:
        found.warnings.append(
            f"ask {limits.name} to raise the limits for your account and write them in CAREVISIT_PAGER_LIMITS_FILE, "
            "or page less often (docs/providers.md)"
        )
