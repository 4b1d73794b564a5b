"""The command line beside the running service, on the same database: the volunteer writes the handling record in
the chat, a coordinator closes the incident with `carevisit incidents resolve`, and the running service sends the
all-clear. The CLI's timeline shows the whole story."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.storage.enums import IncidentStatus
from tests.bot.conftest import t
from tests.bot.stories import sos
from tests.e2e.conftest import CONTACT1, People, Stack, eventually

LANG = "zh_CN"


async def test_resolved_from_the_command_line_while_the_service_runs(
    stack: Stack, people: People, session: AsyncSession
) -> None:
    volunteer = await stack.volunteer_on_duty(session, people)
    await sos(volunteer)
    await eventually(lambda: stack.twilio.sms_to(CONTACT1), "paging contact 1")
    await volunteer.press(t("Record the handling", LANG))
    for answer in ("老人在家摔倒", "拨打120，联系了女儿", "已送医院"):
        await volunteer.send(answer)
    incident = await stack.incident()

    result = await stack.cli("incidents", "resolve", str(incident.id), "--outcome", "家属已到医院陪同")
    assert result.exit_code == 0, result.output
    # The command is another process on the wall clock; the service's fake clock catches up with its record.
    resolved = await stack.incident()
    assert resolved.status == IncidentStatus.RESOLVED and resolved.resolved_at is not None
    stack.clock.set(resolved.resolved_at + timedelta(seconds=1))
    await eventually(lambda: len(stack.twilio.sms_to(CONTACT1)) == 2, "the all-clear from the running service")
    assert "处理完毕" in (stack.twilio.sms_to(CONTACT1)[-1].body or "")

    shown = await stack.cli("incidents", "show", str(incident.id), "--format", "json")
    assert shown.exit_code == 0, shown.output
    story = json.loads(shown.output)
    whats = [entry["what"] for entry in story]
    assert whats[0] == "opened" and "resolved" in " ".join(whats)
    assert "已送医院" in shown.output and "家属已到医院陪同" in shown.output
