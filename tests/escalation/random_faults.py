"""Sends that fail at random, for the fakes' benchmarks and tests: one die for every fake, each fake saying what a
failure looks like on its wire (`RandomFaults.draw` in fake_twilio, fake_aliyun, fake_tencent)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class FaultDice:
    """`error_rate` of sends fail without the provider acting, `timeout_rate` are acted on and answered only after
    `hang` seconds (past the client's timeout); seeded, so a run can be repeated."""

    error_rate: float = 0.10
    timeout_rate: float = 0.05
    hang: float = 2.0
    seed: int = 9
    rng: random.Random = field(init=False)
    injected: Counter[str] = field(default_factory=Counter)  # "500" and "timeout" faults drawn so far

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self) -> Literal["error", "timeout"] | None:
        roll = self.rng.random()
        if roll < self.error_rate:
            self.injected["500"] += 1
            return "error"
        if roll < self.error_rate + self.timeout_rate:
            self.injected["timeout"] += 1
            return "timeout"
        return None
