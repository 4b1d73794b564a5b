"""Where the policies come from: the coordinators' files when configured, else the defaults shipped in config/.

Read at each call, so an edited file takes effect at the next run. The services below never look for files: they
are handed a policy.
"""

from __future__ import annotations

from pathlib import Path

from carevisit import config
from carevisit.config import Settings
from carevisit.escalation.config_file import EscalationConfig, load_config
from carevisit.scheduler.visit_policy import VisitPolicy, load_policy

SHIPPED = Path(config.__file__).resolve().parent
SHIPPED_VISIT_POLICY = SHIPPED / "visit_policy.toml"
SHIPPED_ESCALATION_POLICY = SHIPPED / "escalation_policy.toml"


def visit_policy(path: Path | None) -> VisitPolicy:
    """The visit policy at `path`, or the shipped one. Raises scheduler.visit_policy.PolicyError."""
    return load_policy(path or SHIPPED_VISIT_POLICY)


def escalation_config(settings: Settings) -> EscalationConfig:
    """The policy file named by CAREVISIT_ESCALATION_POLICY_FILE, or the shipped default."""
    return load_config(settings.escalation_policy_file or SHIPPED_ESCALATION_POLICY)
