"""Fixtures for planning and scheduling: the shipped visit policy, and a small programme with volunteers."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carevisit.scheduler.visit_policy import VisitPolicy, load_policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "config" / "visit_policy.toml"


@pytest.fixture
def policy() -> VisitPolicy:
    return load_policy(SHIPPED_POLICY)
