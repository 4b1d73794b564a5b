"""WeCom's settings fail early and say why: half of them, a Token or EncodingAESKey WeCom would not have made, or
WeCom on without PUBLIC_URL stop `carevisit config check` and `carevisit run` (exit 2, before anything listens),
naming what to fix. When they are right, `config check` says WeCom is on and which URLs the app's settings need."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carevisit.cli import app
from tests.wecom.fake_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

runner = CliRunner()
PUBLIC_URL = "https://care.example.cn"
WECOM = {
    "CAREVISIT_WECOM_CORP_ID": CORP_ID,
    "CAREVISIT_WECOM_AGENT_ID": str(AGENT_ID),
    "CAREVISIT_WECOM_SECRET": SECRET,
    "CAREVISIT_WECOM_TOKEN": TOKEN,
    "CAREVISIT_WECOM_AES_KEY": AES_KEY,
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)
    return {
        "CAREVISIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cv.db'}",
        "CAREVISIT_PUBLIC_URL": PUBLIC_URL,
        "CAREVISIT_SECRET_KEY": "s" * 32,
    }


def test_with_all_its_settings_config_check_says_wecom_is_on_and_gives_the_urls(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["config", "check"], env=env | WECOM)

    assert result.exit_code == 0, result.output
    assert "WeCom: on" in result.output
    assert f"{PUBLIC_URL}/wecom/callback" in result.output
    assert f"{PUBLIC_URL}/v/wecom" in result.output
    for secret in (SECRET, TOKEN, AES_KEY):
        assert secret not in result.output


def test_without_them_wecom_is_off_and_says_why(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["config", "check"], env=env)

    assert result.exit_code == 0, result.output
    assert "WeCom: off (no CAREVISIT_WECOM_* settings)" in result.output
    assert "/wecom/callback" not in result.output


@pytest.mark.parametrize("command", [["config", "check"], ["run"]])
def test_half_of_them_is_an_error_naming_the_missing_ones(env: dict[str, str], command: list[str]) -> None:
    given = {name: WECOM[name] for name in ("CAREVISIT_WECOM_CORP_ID", "CAREVISIT_WECOM_AGENT_ID")}

    result = runner.invoke(app, command, env=env | given)

    assert result.exit_code == 2
    for missing in ("CAREVISIT_WECOM_SECRET", "CAREVISIT_WECOM_TOKEN", "CAREVISIT_WECOM_AES_KEY"):
        assert missing in result.output
    assert "CAREVISIT_WECOM_CORP_ID," not in result.output  # given: not named as missing
    assert "Traceback" not in result.output
    assert "role:" not in result.output  # `run` stopped before starting anything


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CAREVISIT_WECOM_AES_KEY", AES_KEY[:-1], "EncodingAESKey"),  # 42 characters
        ("CAREVISIT_WECOM_AES_KEY", AES_KEY[:-1] + "=", "EncodingAESKey"),  # not base64's alphabet
        ("CAREVISIT_WECOM_TOKEN", "t" * 33, "Token"),
        ("CAREVISIT_WECOM_TOKEN", "token-with-dash", "Token"),
    ],
)
@pytest.mark.parametrize("command", [["config", "check"], ["run"]])
def test_a_key_or_token_wecom_would_not_have_made_is_refused(
    env: dict[str, str], command: list[str], name: str, value: str, says: str
) -> None:
    result = runner.invoke(app, command, env=env | WECOM | {name: value})

    assert result.exit_code == 2
    assert name in result.output and says in result.output
    assert value not in result.output  # a secret, even a wrong one, is not printed
    assert "role:" not in result.output


@pytest.mark.parametrize("command", [["config", "check"], ["run"]])
def test_wecom_without_public_url_is_an_error(env: dict[str, str], command: list[str]) -> None:
    env = {k: v for k, v in env.items() if k not in ("CAREVISIT_PUBLIC_URL", "CAREVISIT_SECRET_KEY")}

    result = runner.invoke(app, command, env=env | WECOM)

    assert result.exit_code == 2
    assert "CAREVISIT_PUBLIC_URL" in result.output and "WeCom" in result.output
    assert "role:" not in result.output
