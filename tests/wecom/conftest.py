from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from carevisit.care.clock import FakeClock
from tests.wecom.fake_wecom import FakeWeCom

MEMBERS = ("zhangwei", "lina", "wangfang")


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[FakeWeCom]:
    fake = FakeWeCom(clock)
    for userid in MEMBERS:
        fake.add_member(userid, mobile="13900000000")
    await fake.start()
    yield fake
    await fake.close()
