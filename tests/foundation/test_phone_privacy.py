"""Phones as each role sees them on the dashboard: in full for those who call, masked for viewers."""

from __future__ import annotations

import pytest

from carevisit.care.phone_privacy import shown_phone
from carevisit.storage.enums import CoordinatorRole


@pytest.mark.parametrize(
    ("number", "role", "shown"),
    [
        ("+8613812345678", CoordinatorRole.COORDINATOR, "13812345678"),
        ("+8613812345678", CoordinatorRole.ADMIN, "13812345678"),
        ("+8613812345678", CoordinatorRole.VIEWER, "138****5678"),
        ("+8675512345678", CoordinatorRole.VIEWER, "755****5678"),  # a fixed line, without the country code
        ("+447700900123", CoordinatorRole.VIEWER, "+44****0123"),
        ("+447700900123", CoordinatorRole.COORDINATOR, "+447700900123"),
        ("+86110", CoordinatorRole.VIEWER, "****"),
        (None, CoordinatorRole.COORDINATOR, ""),
    ],
)
def test_phones_are_masked_for_viewers_only(number: str | None, role: CoordinatorRole, shown: str) -> None:
    assert shown_phone(number, role) == shown
