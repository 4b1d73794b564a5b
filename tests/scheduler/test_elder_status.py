"""Which status changes a coordinator may make on the elder's page, as a table."""

from __future__ import annotations

import pytest

from carevisit.scheduler.elder_status import may_change
from carevisit.storage.enums import ElderStatus

A, P, M, D, W = (
    ElderStatus.ACTIVE, ElderStatus.PAUSED, ElderStatus.MOVED, ElderStatus.DECEASED, ElderStatus.WITHDREW,
)  # fmt: skip


@pytest.mark.parametrize(
    ("current", "wanted", "allowed"),
    [
        (A, P, True), (P, P, True), (M, P, False), (D, P, False), (W, P, False),  # pause: the living on the plan
        (P, A, True), (M, A, True), (A, A, False), (D, A, False), (W, A, False),  # resume: back from a pause or a move
        (A, M, True), (P, M, True), (W, M, True), (M, M, False), (D, M, False),  # moved
        (A, D, True), (P, D, True), (M, D, True), (W, D, True), (D, D, False),  # deceased is final
        (A, W, False),  # withdrawing is the elder's own choice, recorded by the roster, not on this page
    ],
)  # fmt: skip
def test_which_status_changes_apply(current: ElderStatus, wanted: ElderStatus, allowed: bool) -> None:
    assert may_change(current, wanted) is allowed
