"""The approved templates of the domestic providers, from the TOML file the operator fills in after approval
(`CAREVISIT_PAGER_TEMPLATES_FILE`; docs/providers.md explains each entry).

One table per provider, channel and kind, naming the approved template and which of the kind's variables fill it,
in the template's own order:

    [aliyun.sms.family_emergency]
    template = "SMS_480000001"
    params = ["name", "code"]

    [tencent.voice.family_emergency]
    template = "2480101"
    params = ["name"]

Aliyun's press-key call (IvrCall) may add `ack_template` (said after the key) and `bye_template` (said when no key
came). The file is read and checked once, at start-up: a missing or misspelt entry is an error naming it then, not
at 3 a.m. when the first emergency needs it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carevisit.escalation.notices import FALLBACKS, KINDS, VARIABLES

PROVIDERS = ("aliyun", "tencent")
CHANNELS = ("sms", "voice")
_KEYS = {"template", "params", "ack_template", "bye_template", "sign_name"}


class TemplateFileError(ValueError):
    """The templates file is unusable; the message names the file and the entry."""


class MissingTemplate(LookupError):
    """No approved template for a kind: the page cannot be sent through this provider."""


@dataclass(frozen=True, slots=True)
class Template:
    provider: str
    channel: str
    kind: str
    template: str  # Aliyun TemplateCode / TtsCode, Tencent TemplateId
    params: tuple[str, ...]  # our variables, in the template's order
    ack_template: str | None = None
    bye_template: str | None = None
    sign_name: str | None = None  # overrides the provider's sign name for this template

    @property
    def entry(self) -> str:
        """How the file names this template, for messages."""
        return f"[{self.provider}.{self.channel}.{self.kind}]"

    def values(self, params: dict[str, str]) -> list[str]:
        """The template's variables in its order (Tencent's TemplateParamSet); KeyError naming a missing one."""
        return [str(params[name]) for name in self.params]

    def named(self, params: dict[str, str]) -> dict[str, str]:
        """The template's variables by name (Aliyun's TemplateParam)."""
        return {name: str(params[name]) for name in self.params}


@dataclass(frozen=True, slots=True)
class PagerTemplates:
    entries: dict[tuple[str, str, str], Template] = field(default_factory=dict)

    def find(self, provider: str, channel: str, kind: str) -> Template:
        """The template for a kind, or its fallback's (a repeat sent with its first kind's template)."""
        for candidate in (kind, FALLBACKS.get(kind)):
            if candidate and (found := self.entries.get((provider, channel, candidate))):
                return found
        raise MissingTemplate(f"no approved template [{provider}.{channel}.{kind}] in the templates file")

    def missing(self, provider: str, kinds: tuple[tuple[str, str], ...]) -> list[str]:
        """The entries of `kinds` (channel, kind) this provider has no template for."""
        absent = []
        for channel, kind in kinds:
            try:
                self.find(provider, channel, kind)
            except MissingTemplate:
                absent.append(f"[{provider}.{channel}.{kind}]")
        return absent

    def of(self, provider: str) -> list[Template]:
        return [t for (p, _, _), t in sorted(self.entries.items()) if p == provider]


def load_templates(path: Path) -> PagerTemplates:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TemplateFileError(f"{path}: cannot read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise TemplateFileError(f"{path}: not valid TOML ({error})") from None
    try:
        return parse_templates(data)
    except ValueError as error:
        raise TemplateFileError(f"{path}: {error}") from None


def parse_templates(data: dict[str, Any]) -> PagerTemplates:
    entries: dict[tuple[str, str, str], Template] = {}
    for provider, channels in data.items():
        if provider not in PROVIDERS:
            raise ValueError(f"[{provider}] is not a provider; use {' or '.join(PROVIDERS)}")
        for channel, kinds in _table(channels, f"[{provider}]").items():
            if channel not in CHANNELS:
                raise ValueError(f"[{provider}.{channel}]: the channel is sms or voice")
            for kind, raw in _table(kinds, f"[{provider}.{channel}]").items():
                entries[(provider, channel, kind)] = _template(provider, channel, kind, raw)
    return PagerTemplates(entries)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table")
    return value


def _template(provider: str, channel: str, kind: str, raw: Any) -> Template:
    entry = f"[{provider}.{channel}.{kind}]"
    if (channel, kind) not in KINDS:
        known = ", ".join(k for c, k in KINDS if c == channel)
        raise ValueError(f"{entry}: no such kind of {channel}; the kinds are {known}")
    raw = _table(raw, entry)
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{entry}: unknown key {', '.join(sorted(unknown))}")
    template = raw.get("template")
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"{entry}: template = the approved template's code or id")
    params = raw.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ValueError(f"{entry}: params is a list of variable names")
    allowed = KINDS[(channel, kind)]
    for name in params:
        if name not in allowed:
            why = "is not a variable" if name not in VARIABLES else f"is not a variable of {kind}"
            raise ValueError(f"{entry}: {name!r} {why}; it may use {', '.join(allowed)}")
    if len(set(params)) != len(params):
        raise ValueError(f"{entry}: a variable is listed twice")
    for extra in ("ack_template", "bye_template"):
        if extra in raw and (provider != "aliyun" or channel != "voice"):
            raise ValueError(f"{entry}: {extra} is for Aliyun voice (IvrCall) only")
    return Template(
        provider=provider,
        channel=channel,
        kind=kind,
        template=template.strip(),
        params=tuple(params),
        ack_template=_optional(raw, "ack_template", entry),
        bye_template=_optional(raw, "bye_template", entry),
        sign_name=_optional(raw, "sign_name", entry),
    )


def _optional(raw: dict[str, Any], key: str, entry: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{entry}: {key} must be a template code")
    return value.strip()
