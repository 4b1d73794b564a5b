"""How `carevisit run` builds the volunteer app from the settings."""

from __future__ import annotations

from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from carevisit.care.clock import FakeClock
from carevisit.fieldwork.context import FieldContext
from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.wecom_sign_in import WECOM
from carevisit.web import build_web_app
from tests.volunteer_app.conftest import client_of, runtime_for


async def test_the_app_gets_the_services_context_and_the_public_url(engine: AsyncEngine, clock: FakeClock) -> None:
    app = build_web_app(
        runtime_for(engine, clock, public_url="https://care.example.cn/", secret_key="k" * 32, language="en")
    )
    deps = app[DEPS]
    assert isinstance(deps.field, FieldContext) and deps.field.public_url == "https://care.example.cn"
    assert deps.public_url == "https://care.example.cn" and deps.secure_cookies and deps.language == "en"
    assert deps.field.policy.steps  # the shipped escalation policy
    assert WECOM not in app  # no WeCom settings, no WeCom sign-in


async def test_the_app_style_sheet_may_be_cached_and_pages_may_not(app_server: TestServer) -> None:
    async with client_of(app_server) as client:
        sheet = await client.get("/v/static/app.css")
        assert sheet.status == 200 and "no-store" not in sheet.headers.get("Cache-Control", "")
        page = await client.get("/v/signed-out")
        assert page.headers["Cache-Control"] == "no-store"
        assert (
            page.headers["X-Frame-Options"] == "DENY"
            and "default-src 'self'" in page.headers["Content-Security-Policy"]
        )
