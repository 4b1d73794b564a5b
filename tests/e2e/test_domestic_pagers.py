"""The service on Aliyun and on Tencent, configured only through settings as an operator configures it:
CAREVISIT_PAGER, the provider's CAREVISIT_ALIYUN_* / CAREVISIT_TENCENT_* with the *_ENDPOINT settings pointing at the
fake cloud, the templates file (the shipped example, its wordings approved at the fake), the callback secret and
PUBLIC_URL. The escalation part makes its own pager from them; `serve` puts its routes on a real port; the official
SDKs talk HTTP to the fakes, which check the signatures and templates and push back unsigned as the clouds do.

Also: `carevisit drill ELDER` on every provider, the errors a pager that cannot start gives (`carevisit run` exits
2 before anything listens, `carevisit config check` says the same), and pushes to a wrong secret, provider or push
type answered 404 by the running service."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import socket
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from typer.testing import CliRunner, Result

from carevisit import config
from carevisit.bootstrap import Runtime
from carevisit.care.clock import FakeClock
from carevisit.cli import app as cli_app
from carevisit.config import load_settings
from carevisit.escalation import aliyun_pager, incidents, tencent_pager
from carevisit.escalation.aliyun_pager import AliyunPager
from carevisit.escalation.tencent_pager import TencentPager
from carevisit.parts.escalation import EscalationPart
from carevisit.service import Role, serve
from carevisit.storage.enums import Channel, DeliveryStatus, IncidentStatus
from carevisit.storage.models import Incident, OutboxMessage
from tests.e2e.conftest import People, Stack, eventually
from tests.escalation import fake_aliyun, fake_tencent
from tests.escalation.conftest import CONTACT1, CONTACT2, make_world_data
from tests.escalation.fake_aliyun import QUERY_CALL_DETAIL, FakeAliyun, SmsTemplate, TtsTemplate
from tests.escalation.fake_tencent import FakeTencent, Push
from tests.ports import free_port, loopback_host

EXAMPLE = Path(config.__file__).resolve().parent / "pager_templates.example.toml"
CALLBACK_SECRET = "Vb3nQ8zKx2Lm7Tp4Rw9Hc6Jd"
SECRET_KEY = "domestic-e2e-secret-key-long-enough"
PROVIDERS = ("aliyun", "tencent")
_ENTRY = re.compile(r"^\[(aliyun|tencent)\.(sms|voice)\.(\w+)\]$")


# --- the approved templates: the shipped example file, each entry's wording the comment under its header ---


def approved_wordings(provider: str) -> dict[tuple[str, str], str]:
    """(channel, kind) -> the wording the example file asks the operator to get approved."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    found: dict[tuple[str, str], str] = {}
    for line, following in itertools.pairwise(lines):
        match = _ENTRY.match(line.strip())
        if match and match.group(1) == provider and following.startswith("# "):
            found[(match.group(2), match.group(3))] = following[2:].strip()
    return found


def entries(provider: str) -> dict[str, dict[str, dict[str, Any]]]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))[provider]


def template_of(provider: str, channel: str, kind: str) -> str:
    return str(entries(provider)[channel][kind]["template"])


def register_at_aliyun(fake: FakeAliyun) -> None:
    wordings = approved_wordings("aliyun")
    for kind, entry in entries("aliyun")["sms"].items():
        fake.sms_templates[entry["template"]] = SmsTemplate(entry["template"], wordings[("sms", kind)])
    for entry in entries("aliyun")["voice"].values():
        fake.tts_templates[entry["template"]] = TtsTemplate(entry["template"], tuple(entry["params"]))
        for said in (entry.get("ack_template"), entry.get("bye_template")):
            if said:
                fake.tts_templates[said] = TtsTemplate(said)


def register_at_tencent(fake: FakeTencent) -> None:
    wordings = approved_wordings("tencent")
    for (channel, kind), wording in wordings.items():
        approved = fake.sms_templates if channel == "sms" else fake.voice_templates
        approved[template_of("tencent", channel, kind)] = wording


# --- one deployment: the fake cloud, the settings pointing at it, the service on a real port ---


@dataclass
class Deployment:
    provider: str
    env: dict[str, str]  # what the operator sets: CAREVISIT_*
    aliyun: FakeAliyun | None
    tencent: FakeTencent | None
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    data: dict[str, Any]

    @property
    def public_url(self) -> str:
        return self.env["CAREVISIT_PUBLIC_URL"]

    def settings(self, **overrides: str) -> Any:
        values = {name.removeprefix("CAREVISIT_").lower(): value for name, value in (self.env | overrides).items()}
        return load_settings(**values)

    @asynccontextmanager
    async def running(self, role: Role = Role.ALL, **overrides: str) -> AsyncIterator[EscalationPart]:
        """The service as `carevisit run --role ROLE` builds it, with only the escalation part (its loops fast)."""
        rt = Runtime(settings=self.settings(**overrides), clock=self.clock, engine=self.engine, sessions=self.sessions)
        part = EscalationPart(rt, interval=0.02)
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(serve(rt, role=role, parts=[part], started=ready.set, stop=stop))
        waiting = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, waiting}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            waiting.cancel()
            task.result()
        assert waiting in done, "the service did not start"
        try:
            yield part
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)

    # what reached the cloud, provider-neutral

    def sms_to(self, number: str) -> list[tuple[str, dict[str, str]]]:
        """(template, variables by name) of each SMS the cloud took for `number`."""
        if self.aliyun is not None:
            return [(m.template, m.params) for m in self.aliyun.sms_to(number)]
        assert self.tencent is not None
        names = {entry["template"]: entry["params"] for entry in entries("tencent")["sms"].values()}
        return [
            (m.template_id, dict(zip(names[m.template_id], m.params, strict=True))) for m in self.tencent.sms_to(number)
        ]

    def calls_to(self, number: str) -> list[tuple[str, str]]:
        """(template, call id) of each call the cloud placed to `number`."""
        if self.aliyun is not None:
            return [(c.start_code, c.call_id) for c in self.aliyun.calls_to(number)]
        assert self.tencent is not None
        return [(c.template_id, c.call_id) for c in self.tencent.calls_to(number)]

    async def presses_1(self, call_id: str) -> None:
        """The callee answers and presses 1: the cloud pushes what happened, unsigned."""
        if self.aliyun is not None:
            self.aliyun.callee_presses(CONTACT1, "1")
            await self.aliyun.push_call(call_id)
        else:
            assert self.tencent is not None
            assert await self.tencent.answer(call_id, key="1") == [200, 200]

    async def push(self, path: str, body: Any) -> int:
        async with aiohttp.ClientSession() as http, http.post(f"{self.public_url}{path}", json=body) as response:
            return response.status

    # the database

    async def incident(self) -> Incident:
        async with self.sessions() as session:
            found = (await session.exec(select(Incident).order_by(col(Incident.id).desc()))).first()
        assert found is not None
        return found

    async def settled_sms(self, number: str) -> list[OutboxMessage]:
        """The SMS rows to `number` once none is still waiting to be sent."""
        async with self.sessions() as session:
            query = select(OutboxMessage).where(
                OutboxMessage.channel == Channel.SMS, OutboxMessage.to_address == number
            )
            rows = list((await session.exec(query)).all())
        waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
        return rows if rows and all(row.status not in waiting for row in rows) else []

    async def sent_call(self, number: str) -> bool:
        """The call to `number` is placed and its provider id recorded (a push can find it)."""
        async with self.sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage).where(
                        OutboxMessage.channel == Channel.VOICE, OutboxMessage.to_address == number
                    )
                )
            ).all()
        return any(row.provider_sid for row in rows)


def environment(provider: str, templates: Path, db_url: str, endpoint: str) -> dict[str, str]:
    host = loopback_host()
    port = free_port(host)
    common = {
        "CAREVISIT_DATABASE_URL": db_url,
        "CAREVISIT_PAGER": provider,
        "CAREVISIT_PAGER_TEMPLATES_FILE": str(templates),
        "CAREVISIT_PAGER_CALLBACK_SECRET": CALLBACK_SECRET,
        "CAREVISIT_PUBLIC_URL": f"http://{host}:{port}",
        "CAREVISIT_SECRET_KEY": SECRET_KEY,
        "CAREVISIT_WEB_HOST": host,
        "CAREVISIT_WEB_PORT": str(port),
    }
    if provider == "aliyun":
        return common | {
            "CAREVISIT_ALIYUN_ACCESS_KEY_ID": fake_aliyun.ACCESS_KEY_ID,
            "CAREVISIT_ALIYUN_ACCESS_KEY_SECRET": fake_aliyun.ACCESS_KEY_SECRET,
            "CAREVISIT_ALIYUN_SIGN_NAME": fake_aliyun.SIGN_NAME,
            "CAREVISIT_ALIYUN_CALLED_SHOW_NUMBER": fake_aliyun.SHOW_NUMBER,
            "CAREVISIT_ALIYUN_SMS_ENDPOINT": endpoint,
            "CAREVISIT_ALIYUN_VOICE_ENDPOINT": endpoint,
        }
    return common | {
        "CAREVISIT_TENCENT_SECRET_ID": fake_tencent.SECRET_ID,
        "CAREVISIT_TENCENT_SECRET_KEY": fake_tencent.SECRET_KEY,
        "CAREVISIT_TENCENT_SMS_APP_ID": fake_tencent.SMS_APP_ID,
        "CAREVISIT_TENCENT_VOICE_APP_ID": fake_tencent.VOICE_APP_ID,
        "CAREVISIT_TENCENT_SIGN_NAME": fake_tencent.SIGN_NAME,
        "CAREVISIT_TENCENT_SMS_ENDPOINT": f"http://{endpoint}",
        "CAREVISIT_TENCENT_VOICE_ENDPOINT": f"http://{endpoint}",
    }


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def templates_file(tmp_path: Path) -> Path:
    path = tmp_path / "pager_templates.toml"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.fixture(params=PROVIDERS)
async def d(
    request: pytest.FixtureRequest,
    clean_environment: None,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    clock: FakeClock,
    db_url: str,
    templates_file: Path,
) -> AsyncIterator[Deployment]:
    provider = str(request.param)
    data = await make_world_data(session, clock)
    aliyun = tencent = None
    if provider == "aliyun":
        aliyun = FakeAliyun(clock)
        register_at_aliyun(aliyun)
        endpoint = await aliyun.start()
    else:
        tencent = FakeTencent(clock)
        register_at_tencent(tencent)
        endpoint = await tencent.start()
    env = environment(provider, templates_file, db_url, endpoint)
    base = f"{env['CAREVISIT_PUBLIC_URL']}/pager/{provider}/{CALLBACK_SECRET}"
    if aliyun is not None:
        aliyun.callback_base = base
    if tencent is not None:
        tencent.push_base = base
    yield Deployment(provider, env, aliyun, tencent, engine, session_factory, clock, data)
    for fake in (aliyun, tencent):
        if fake is not None:
            await fake.close()


async def open_emergency(d: Deployment, part: EscalationPart) -> int:
    async with d.sessions() as session:
        incident = await incidents.open_incident(
            session,
            clock=d.clock,
            policy=part.esc.config.policy,
            elder_id=d.data["elder"].id,
            kind="fall",
            reporter_volunteer_id=d.data["volunteer"].id,  # a volunteer's SOS from the visit
        )
        await session.commit()
        assert incident.id is not None
        return incident.id


# --- 1. paging through the service, acknowledged by press 1 or by the code ---


async def test_the_service_pages_with_the_approved_templates_and_press_1_acknowledges(d: Deployment) -> None:
    async with d.running() as part:
        assert part.esc.pager.name == d.provider  # made from the settings alone
        incident_id = await open_emergency(d, part)
        await eventually(lambda: d.sms_to(CONTACT1) and d.calls_to(CONTACT1), "the first SMS and call")
        [(sms_template, variables)] = d.sms_to(CONTACT1)
        assert sms_template == template_of(d.provider, "sms", "family_emergency")
        assert variables["name"] == "王秀英" and re.fullmatch(r"\d{6}", variables["code"])
        [(call_template, call_id)] = d.calls_to(CONTACT1)
        assert call_template == template_of(d.provider, "voice", "family_emergency")
        await eventually(lambda: d.sent_call(CONTACT1), "the call's id recorded")

        await d.presses_1(call_id)
        incident = await d.incident()
        assert incident.id == incident_id and incident.status == IncidentStatus.ACKNOWLEDGED
        assert incident.ack_channel == "voice"
        d.clock.advance(timedelta(minutes=10))
        await part.loops.wait_idle(5)  # the loops came round with the clock past step 2: an event, not a sleep
        assert d.sms_to(CONTACT2) == [] and d.calls_to(CONTACT2) == []


async def test_the_code_in_the_sms_acknowledges_on_the_services_page(d: Deployment) -> None:
    async with d.running() as part:
        await open_emergency(d, part)
        await eventually(lambda: d.sms_to(CONTACT1), "the first SMS")
        [(_, variables)] = d.sms_to(CONTACT1)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{d.public_url}/a", data={"code": variables["code"]}) as page:
                assert page.status == 200 and "/a/ack" in await page.text()
            async with http.post(f"{d.public_url}/a/ack", data={"code": variables["code"]}) as done:
                assert done.status == 200
        incident = await d.incident()
        assert incident.status == IncidentStatus.ACKNOWLEDGED


async def test_a_web_only_process_confirms_a_key_press_with_the_pager_it_made(d: Deployment) -> None:
    # A worker pages; a web-only process (only add_routes, nothing started) takes the cloud's push.
    async with d.running(Role.WORKER) as worker, d.running(Role.WEB) as web_only:
        assert isinstance(web_only.esc.pager, AliyunPager | TencentPager)  # made in add_routes
        await open_emergency(d, worker)
        await eventually(lambda: d.calls_to(CONTACT1), "the worker's call")
        await eventually(lambda: d.sent_call(CONTACT1), "the call's id recorded")
        [(_, call_id)] = d.calls_to(CONTACT1)
        await d.presses_1(call_id)
        if d.aliyun is not None:  # the web process asked Aliyun to confirm the press before believing it
            assert QUERY_CALL_DETAIL in d.aliyun.requests
        incident = await d.incident()
        assert incident.status == IncidentStatus.ACKNOWLEDGED and incident.ack_channel == "voice"


# --- 4. pushes the service must not take ---


async def test_pushes_to_a_wrong_secret_provider_or_push_type_are_404_and_change_nothing(d: Deployment) -> None:
    async with d.running() as part:
        await open_emergency(d, part)
        await eventually(lambda: d.calls_to(CONTACT1), "the first call")
        await eventually(lambda: d.sent_call(CONTACT1), "the call's id recorded")
        [(_, call_id)] = d.calls_to(CONTACT1)
        if d.aliyun is not None:
            key, other, wrong_type = "VoiceCallReport", "tencent", "voicekey"
            body: Any = [
                {"call_id": call_id, "status_code": "300000", "status_time": "2026-03-10 10:00:20", "dtmf": "1"}
                | {"out_id": "", "callee": CONTACT1[3:]}
            ]
        else:
            assert d.tencent is not None
            key, other, wrong_type = "voicekey", "aliyun", "VoiceCallReport"
            body = d.tencent.voicekey_payload(call_id, "1")
        refused = [
            f"/pager/{d.provider}/{CALLBACK_SECRET[:-1]}x/{key}",  # a guessed secret
            f"/pager/{d.provider}/{CALLBACK_SECRET}-/{key}",
            f"/pager/{other}/{CALLBACK_SECRET}/{key}",  # the other cloud
            f"/pager/{d.provider}/{CALLBACK_SECRET}/{wrong_type}",  # the other cloud's push type
            f"/pager/{d.provider}/{CALLBACK_SECRET}/SmsReport2",
            f"/pager/twilio/{CALLBACK_SECRET}/{key}",
            f"/pager/{d.provider}/{CALLBACK_SECRET}",
        ]
        for path in refused:
            assert await d.push(path, body) == 404, path
        not_a_post = f"{d.public_url}/pager/{d.provider}/{CALLBACK_SECRET}/{key}"
        async with aiohttp.ClientSession() as http, http.get(not_a_post) as response:
            assert response.status == 404
        assert (await d.incident()).status == IncidentStatus.OPEN
        if d.tencent is not None:  # the same push at the right address is taken: the 404s were the address
            assert await d.tencent.push(Push("voicekey", body)) == [200]
            assert (await d.incident()).status == IncidentStatus.ACKNOWLEDGED


# --- 2. `carevisit drill ELDER` on every provider ---


async def cli(env: dict[str, str], *args: str) -> Result:
    """A `carevisit` command beside the service, as the operator runs it (same environment, the wall clock)."""
    return await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), env=env)


async def test_a_drill_from_the_command_line_on_twilio_is_marked_and_acknowledged_by_press_1(
    stack: Stack, people: People, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised on the SQLite copy; the service underneath runs on both backends")
    await stack.start()
    result = await stack.cli("drill", people.elder.external_id)
    assert result.exit_code == 0, result.output
    drill = await stack.incident()
    assert drill.is_drill
    stack.clock.set(drill.opened_at + timedelta(seconds=1))  # the command ran on the wall clock
    await eventually(lambda: stack.twilio.sms_to(CONTACT1) and stack.twilio.calls_to(CONTACT1), "the drill page")
    assert "演练" in (stack.twilio.sms_to(CONTACT1)[0].body or "")
    [call] = stack.twilio.calls_to(CONTACT1)
    await stack.twilio.answer(call.sid, digits="1")
    acknowledged = await stack.incident()
    assert acknowledged.is_drill and acknowledged.status == IncidentStatus.ACKNOWLEDGED
    assert acknowledged.ack_channel == "voice"


# A drill from the command line has no reporting volunteer: the templates' `volunteer` says "社区工作人员" (an
# approved template cannot leave a variable out, and the adapters refuse an empty one).
async def test_a_drill_from_the_command_line_pages_with_the_drill_templates_and_is_acknowledged(
    d: Deployment, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the CLI is exercised on the SQLite copy; the service underneath runs on both backends")
    async with d.running() as part:
        result = await cli(d.env, "drill", d.data["elder"].external_id, "--by", "coordinator:1")
        assert result.exit_code == 0, result.output
        drill = await d.incident()
        assert drill.is_drill and drill.status == IncidentStatus.OPEN
        # The command ran on the wall clock; the service's fake clock catches up with it.
        d.clock.set(drill.opened_at + timedelta(seconds=1))
        [first] = await eventually(lambda: d.settled_sms(CONTACT1), "the drill's first SMS sent or refused")
        assert first.error_code != "template_params"  # never refused for an empty variable
        await eventually(lambda: d.sms_to(CONTACT1) and d.calls_to(CONTACT1), "the drill's SMS and call")
        [(sms_template, variables)] = d.sms_to(CONTACT1)
        assert sms_template == template_of(d.provider, "sms", "drill")  # the wording says 演练, no action needed
        assert "演练" in approved_wordings(d.provider)[("sms", "drill")]
        assert variables["name"] == "王秀英" and re.fullmatch(r"\d{6}", variables["code"])
        assert variables["volunteer"] == "社区工作人员"  # nobody reported it: who stands in
        [(call_template, call_id)] = d.calls_to(CONTACT1)
        assert call_template == template_of(d.provider, "voice", "drill")
        await eventually(lambda: d.sent_call(CONTACT1), "the call's id recorded")
        await d.presses_1(call_id)
        acknowledged = await d.incident()
        assert acknowledged.is_drill and acknowledged.status == IncidentStatus.ACKNOWLEDGED
        assert acknowledged.ack_channel == "voice"
        await part.loops.wait_idle(5)


# --- 3. a pager that cannot start: `carevisit run` exits 2 naming why, nothing listens; config check agrees ---


def refuses_connections(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) != 0


def limits_file(tmp_path: Path) -> Path:
    path = tmp_path / "limits.toml"
    path.write_text("[aliyun.voice]\nper_fortnight = 3\n", encoding="utf-8")
    return path


def without_drill(templates: Path) -> None:
    text = templates.read_text(encoding="utf-8")
    start, end = text.index("[aliyun.sms.drill]\n"), text.index("[aliyun.sms.drill_repeat]")
    templates.write_text(text[:start] + text[end:], encoding="utf-8")


@pytest.mark.parametrize(
    "problem",
    ["no-templates-file", "absent-templates-file", "kind-missing", "bad-limits", "no-sdk-aliyun", "no-sdk-tencent"],
)
async def test_a_pager_that_cannot_start_stops_carevisit_run_before_anything_listens(
    problem: str,
    clean_environment: None,
    db_url: str,
    backend: str,
    tmp_path: Path,
    templates_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend != "sqlite":
        pytest.skip("the commands are exercised on the SQLite copy")
    provider = "tencent" if problem == "no-sdk-tencent" else "aliyun"
    env = environment(provider, templates_file, db_url, "127.0.0.1:9")
    expected: str
    if problem == "no-templates-file":
        del env["CAREVISIT_PAGER_TEMPLATES_FILE"]
        expected = "CAREVISIT_PAGER=aliyun needs CAREVISIT_PAGER_TEMPLATES_FILE"
    elif problem == "absent-templates-file":
        env["CAREVISIT_PAGER_TEMPLATES_FILE"] = str(tmp_path / "absent.toml")
        expected = "absent.toml: cannot read"
    elif problem == "kind-missing":
        without_drill(templates_file)
        expected = "[aliyun.sms.drill]: no approved template (needed)"
    elif problem == "bad-limits":
        env["CAREVISIT_PAGER_LIMITS_FILE"] = str(limits_file(tmp_path))
        expected = "unknown limit 'per_fortnight'"
    else:  # the extra not installed: the environment, simulated where make_pager and config check ask for it
        monkeypatch.setattr(aliyun_pager if provider == "aliyun" else tencent_pager, "available", lambda: False)
        expected = f"pip install 'carevisit[{provider}]'"

    ran = await cli(env, "run")
    assert ran.exit_code == 2, ran.output
    assert expected in " ".join(ran.output.split()), ran.output
    assert "Traceback" not in ran.output and "listening" not in ran.output
    assert refuses_connections(env["CAREVISIT_WEB_HOST"], int(env["CAREVISIT_WEB_PORT"]))

    checked = await cli(env, "config", "check")
    assert checked.exit_code == 2, checked.output
    assert expected in " ".join(checked.output.split()), checked.output
