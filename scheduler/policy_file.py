"""Where the visit policy comes from: the coordinators' file if configured, else the shipped default."""

from __future__ import annotations

from pathlib import Path

import config
from care.visit_policy import VisitPolicy, load_policy

SHIPPED_POLICY = Path(config.__file__).resolve().parent / "visit_policy.toml"


def visit_policy(path: Path | None) -> VisitPolicy:
    """Read the policy now (so an edited file takes effect at the next run). Raises care.visit_policy.PolicyError."""
    return load_policy(path or SHIPPED_POLICY)
