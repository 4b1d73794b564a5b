"""A whole day of the service — linking, confirming a visit, an emergency paged, acknowledged and resolved — and
the INFO log, as `carevisit run` configures it, names nobody: no names, phone numbers or addresses."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.logs import configure_logging
from carevisit.storage.enums import IncidentStatus
from tests.bot.stories import confirm, sos
from tests.e2e.conftest import CONTACT1, People, Stack, eventually

LANG = "zh_CN"


@pytest.fixture
def production_logging() -> Iterator[None]:
    """The logger levels `carevisit run` sets, undone afterwards."""
    names = ("aiogram.event", "twilio.http_client", "alembic")
    before = {name: logging.getLogger(name).level for name in names}
    configure_logging()
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


async def test_a_days_info_log_names_nobody(
    stack: Stack, people: People, session: AsyncSession, production_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        volunteer = await stack.volunteer_on_duty(session, people)
        await confirm(volunteer, row=2, mode="phone")
        await sos(volunteer)
        await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
        code, _ = await stack.twilio.inbound_sms(CONTACT1, "收到")
        assert code == 200
        assert (await stack.incident()).status == IncidentStatus.ACKNOWLEDGED
        await stack.tick(minutes=1)
        await stack.quiet()
    assert "INFO" in caplog.text or caplog.records, "nothing was logged at all"
    personal = [
        "王秀英", "刘建国", "李娜", "王强", "张伟", "赵主任", "科技园路", CONTACT1, "13900000001", "+8613712345678",
    ]  # fmt: skip
    leaked = {word: [r.getMessage() for r in caplog.records if word in r.getMessage()] for word in personal}
    assert {word: lines for word, lines in leaked.items() if lines} == {}
