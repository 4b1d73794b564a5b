"""Rendering the volunteer app's pages: its own Jinja environment (volunteer_app/templates), and the words in the
request's language (the signed-in volunteer's, else the service default)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from carevisit.volunteer_app import guard
from carevisit.volunteer_app.deps import DEPS
from carevisit.volunteer_app.texts import language_of, translator

TEMPLATES = Path(__file__).parent / "templates"
JINJA = web.AppKey("volunteer_app_jinja", jinja2.Environment)


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True),
        app_key=JINJA,
    )


def language(request: web.Request) -> str:
    volunteer = request.get(guard.VOLUNTEER)
    return language_of(volunteer.language if volunteer is not None else None, request.app[DEPS].language)


def t(request: web.Request) -> Callable[[str], str]:
    """The translator for the request's language (volunteer.language or the service default)."""
    return translator(language(request))


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """A page of volunteer_app/templates. Every page gets `t`, `lang` ("zh-CN"/"en"), `volunteer` (None when
    signed out) and `csrf` (this device's token for forms) besides `context`."""
    base = {
        "t": t(request),
        "lang": "en" if language(request) == "en" else "zh-CN",
        "volunteer": request.get(guard.VOLUNTEER),
        "csrf": guard.csrf_token(request),
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, app_key=JINJA, status=status)
