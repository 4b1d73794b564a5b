"""The visit policy (合理确定服务频次): which visits an elder needs in a month, by risk level and class.

Pure data and decisions. The file format is TOML (see config/visit_policy.toml); the caller says which file,
because the domain never reads settings.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carevisit.storage.enums import ElderClass, RiskLevel, VisitMode


class PolicyError(ValueError):
    """The policy file is not usable; the message names the rule and the field."""


@dataclass(frozen=True, slots=True)
class Rule:
    risks: frozenset[RiskLevel]  # empty: any risk
    classes: ElderClass  # 0: any class; otherwise the elder must be in at least one
    visits: tuple[VisitMode, ...]

    def matches(self, *, risk: RiskLevel, classes: int) -> bool:
        if self.risks and risk not in self.risks:
            return False
        return not self.classes or bool(self.classes & classes)


@dataclass(frozen=True, slots=True)
class VisitPolicy:
    name: str
    version: str  # "name-version@contenthash": recorded on every visit the policy planned
    rules: tuple[Rule, ...]

    def visits_for(self, *, risk: RiskLevel, classes: int) -> tuple[VisitMode, ...]:
        """The month's visits for an elder, in order; the last rule should match everyone."""
        for rule in self.rules:
            if rule.matches(risk=risk, classes=classes):
                return rule.visits
        return ()


_CLASS_NAMES = {member.name.lower(): member for member in ElderClass}  # type: ignore[union-attr]


def policy_from_toml(text: str) -> VisitPolicy:
    """Parse and validate a policy file's text. Raises PolicyError with a message a coordinator can act on."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"not valid TOML: {error}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return policy_from_mapping(data, digest=digest)


def load_policy(path: Path) -> VisitPolicy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"cannot read visit policy {path}: {error.strerror}") from None
    return policy_from_toml(text)


def policy_from_mapping(data: dict[str, Any], *, digest: str = "") -> VisitPolicy:
    name = str(data.get("name", "policy"))
    version = str(data.get("version", "")).strip()
    if not version:
        raise PolicyError("the policy needs a `version`")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise PolicyError("the policy needs at least one [[rules]] entry")
    rules = tuple(_rule(index, raw) for index, raw in enumerate(raw_rules, start=1))
    catch_all = rules[-1]
    if catch_all.risks or catch_all.classes:
        raise PolicyError("the last rule must match every elder (no `risk`, no `classes`)")
    tag = f"{name}-{version}" + (f"@{digest}" if digest else "")
    return VisitPolicy(name=name, version=tag[:64], rules=rules)


def _rule(index: int, raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"rule {index}: expected a table")
    try:
        risks = frozenset(RiskLevel(value) for value in raw.get("risk", []))
    except ValueError:
        raise PolicyError(f"rule {index}: risk must be among {[r.value for r in RiskLevel]}") from None
    classes = ElderClass(0)
    for value in raw.get("classes", []):
        member = _CLASS_NAMES.get(str(value).lower())
        if member is None:
            raise PolicyError(f"rule {index}: unknown class {value!r}; known: {sorted(_CLASS_NAMES)}")
        classes |= member
    try:
        visits = tuple(VisitMode(value) for value in raw.get("visits", []))
    except ValueError:
        raise PolicyError(f"rule {index}: visit modes must be among {[m.value for m in VisitMode]}") from None
    if not 1 <= len(visits) <= 31:
        raise PolicyError(f"rule {index}: `visits` needs between 1 and 31 entries")
    return Rule(risks=risks, classes=classes, visits=visits)
