"""Which pager a deployment pages through, its settings complete or named as missing, and `carevisit config check`
on a domestic pager: secrets masked, the templates file and the escalation policy checked against the limits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carevisit import config
from carevisit.cli import app
from carevisit.config import SettingsError, load_settings, masked, pager_name
from carevisit.escalation.aliyun_pager import AliyunPager

runner = CliRunner()
SHIPPED = Path(config.__file__).resolve().parent
SID = "AC" + "0123456789abcdef" * 2
CALLBACK_SECRET = "Zq3xR8pLm2Vt9sWc4Yh7Nd1K"  # 24 characters
ALIYUN_SECRET = "aliyun-secret-0123456789abcdef"
TENCENT_KEY = "tencent-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def templates_file(tmp_path: Path) -> Path:
    path = tmp_path / "pager_templates.toml"
    shutil.copy(SHIPPED / "pager_templates.example.toml", path)
    return path


def domestic(provider: str, templates: Path, **more: str) -> dict[str, str]:
    """A complete environment for `provider`."""
    common = {
        "CAREVISIT_PAGER": provider,
        "CAREVISIT_PAGER_TEMPLATES_FILE": str(templates),
        "CAREVISIT_PUBLIC_URL": "https://care.example.cn",
        "CAREVISIT_SECRET_KEY": "s" * 32,
        "CAREVISIT_PAGER_CALLBACK_SECRET": CALLBACK_SECRET,
    }
    if provider == "aliyun":
        own = {
            "CAREVISIT_ALIYUN_ACCESS_KEY_ID": "LTAI5tExampleKeyId",
            "CAREVISIT_ALIYUN_ACCESS_KEY_SECRET": ALIYUN_SECRET,
            "CAREVISIT_ALIYUN_SIGN_NAME": "探访关爱",
            "CAREVISIT_ALIYUN_CALLED_SHOW_NUMBER": "057188773344",
        }
    else:
        own = {
            "CAREVISIT_TENCENT_SECRET_ID": "AKIDExampleSecretId",
            "CAREVISIT_TENCENT_SECRET_KEY": TENCENT_KEY,
            "CAREVISIT_TENCENT_SMS_APP_ID": "1400000001",
            "CAREVISIT_TENCENT_VOICE_APP_ID": "1400000002",
            "CAREVISIT_TENCENT_SIGN_NAME": "探访关爱",
        }
    return common | own | more


# -- which pager ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "console"),
        (
            {
                "CAREVISIT_TWILIO_ACCOUNT_SID": SID,
                "CAREVISIT_TWILIO_AUTH_TOKEN": "f" * 32,
                "CAREVISIT_TWILIO_FROM": "+8613800138000",
            },
            "twilio",
        ),
        (
            {
                "CAREVISIT_PAGER": "console",
                "CAREVISIT_TWILIO_ACCOUNT_SID": SID,
                "CAREVISIT_TWILIO_AUTH_TOKEN": "f" * 32,
                "CAREVISIT_TWILIO_FROM": "+8613800138000",
            },
            "console",
        ),
    ],
)
def test_the_pager_in_use_follows_carevisit_pager_else_the_twilio_credentials(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.pager_in_use == pager_name(settings) == expected


def test_a_domestic_pager_with_everything_set_is_in_use(monkeypatch: pytest.MonkeyPatch, templates_file: Path) -> None:
    for provider in ("aliyun", "tencent"):
        for name, value in domestic(provider, templates_file).items():
            monkeypatch.setenv(name, value)
        assert load_settings().pager_in_use == provider


@pytest.mark.parametrize(
    ("provider", "unset", "named"),
    [
        (
            "aliyun",
            "CAREVISIT_ALIYUN_ACCESS_KEY_SECRET",
            "CAREVISIT_PAGER=aliyun needs CAREVISIT_ALIYUN_ACCESS_KEY_SECRET",
        ),
        ("aliyun", "CAREVISIT_ALIYUN_SIGN_NAME", "CAREVISIT_PAGER=aliyun needs CAREVISIT_ALIYUN_SIGN_NAME"),
        ("aliyun", "CAREVISIT_PAGER_TEMPLATES_FILE", "CAREVISIT_PAGER=aliyun needs CAREVISIT_PAGER_TEMPLATES_FILE"),
        ("tencent", "CAREVISIT_TENCENT_SMS_APP_ID", "CAREVISIT_PAGER=tencent needs CAREVISIT_TENCENT_SMS_APP_ID"),
        ("tencent", "CAREVISIT_TENCENT_SECRET_KEY", "CAREVISIT_PAGER=tencent needs CAREVISIT_TENCENT_SECRET_KEY"),
        ("tencent", "CAREVISIT_PAGER_CALLBACK_SECRET", "needs CAREVISIT_PAGER_CALLBACK_SECRET"),
    ],
)
def test_a_domestic_pager_names_each_missing_setting(
    monkeypatch: pytest.MonkeyPatch, templates_file: Path, provider: str, unset: str, named: str
) -> None:
    for name, value in domestic(provider, templates_file).items():
        if name != unset:
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_a_domestic_pager_needs_the_public_url_its_pushes_come_to(
    monkeypatch: pytest.MonkeyPatch, templates_file: Path
) -> None:
    for name, value in domestic("tencent", templates_file).items():
        if name not in ("CAREVISIT_PUBLIC_URL", "CAREVISIT_SECRET_KEY"):
            monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match="CAREVISIT_PUBLIC_URL"):
        load_settings()


@pytest.mark.parametrize("secret", ["short-secret", "a" * 23, "this has spaces in it, 24+ chars", "slash/" * 5])
def test_the_callback_secret_is_long_and_safe_in_a_path(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("CAREVISIT_PAGER_CALLBACK_SECRET", secret)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "at least 24" in caught.value.problems["CAREVISIT_PAGER_CALLBACK_SECRET"]


def test_carevisit_pager_twilio_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREVISIT_PAGER", "twilio")
    with pytest.raises(SettingsError, match="CAREVISIT_PAGER=twilio needs CAREVISIT_TWILIO_ACCOUNT_SID"):
        load_settings()


def test_the_domestic_secrets_are_masked(monkeypatch: pytest.MonkeyPatch, templates_file: Path) -> None:
    for name, value in domestic("aliyun", templates_file, CAREVISIT_TENCENT_SECRET_KEY=TENCENT_KEY).items():
        monkeypatch.setenv(name, value)
    shown = masked(load_settings())
    for name, secret in (
        ("CAREVISIT_ALIYUN_ACCESS_KEY_SECRET", ALIYUN_SECRET),
        ("CAREVISIT_TENCENT_SECRET_KEY", TENCENT_KEY),
        ("CAREVISIT_PAGER_CALLBACK_SECRET", CALLBACK_SECRET),
    ):
        assert "****" in shown[name] and secret not in shown[name]


# -- carevisit config check --------------------------------------------------------------------------------------


def check(environment: dict[str, str]) -> tuple[int, str]:
    result = runner.invoke(app, ["config", "check"], env=environment)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_config_check_on_aliyun_passes_with_the_example_templates(templates_file: Path) -> None:
    code, output = check(domestic("aliyun", templates_file))
    assert code == 0, output
    assert "Pager: aliyun" in output and "Configuration is valid." in output
    for secret in (ALIYUN_SECRET, CALLBACK_SECRET):
        assert secret not in output


def test_config_check_on_tencent_says_which_repeats_the_daily_limit_refuses(templates_file: Path) -> None:
    code, output = check(domestic("tencent", templates_file))
    # The chain reaches everyone once; the coordinators' third SMS of the day and later are refused: a warning.
    assert code == 0, output
    assert "step 4, round 3: the SMS to the coordinators" in output
    assert "Tencent SMS: 2 a day per number" in output
    assert "CAREVISIT_PAGER_LIMITS_FILE" in output
    assert TENCENT_KEY not in output


def test_raised_limits_in_the_limits_file_clear_the_warning(templates_file: Path, tmp_path: Path) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text("[tencent.sms]\nper_day = 0\ncarrier_per_day = 0\n", encoding="utf-8")
    code, output = check(domestic("tencent", templates_file, CAREVISIT_PAGER_LIMITS_FILE=str(limits)))
    assert code == 0, output
    assert "would be refused" not in output


def test_a_policy_whose_chain_a_limit_refuses_is_an_error(templates_file: Path, tmp_path: Path) -> None:
    # Contact 1 called twice within a minute: Aliyun refuses the second call of the chain itself.
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "repeat_every_minutes = 30\n"
        '[[steps]]\ntarget = "contact:1"\nchannels = ["voice"]\nwait_minutes = 0.5\n'
        '[[steps]]\ntarget = "contact:1"\nchannels = ["voice"]\nwait_minutes = 5\n'
        '[[steps]]\ntarget = "coordinators"\nchannels = ["telegram"]\nwait_minutes = 10\n',
        encoding="utf-8",
    )
    code, output = check(domestic("aliyun", templates_file, CAREVISIT_ESCALATION_POLICY_FILE=str(policy)))
    assert code == 2
    assert "step 2, round 1: the voice to contact 1" in output and "1 call a minute per callee" in output


def test_config_check_names_a_broken_template_entry(templates_file: Path) -> None:
    text = templates_file.read_text(encoding="utf-8").replace('template = "2480003"', 'template = "SMS_1"')
    templates_file.write_text(text, encoding="utf-8")
    code, output = check(domestic("tencent", templates_file))
    assert code == 2
    assert "[tencent.sms.coordinator_emergency]: template = 'SMS_1' is not a Tencent TemplateId" in output


def test_config_check_refuses_a_community_on_an_individual_tencent_account(templates_file: Path) -> None:
    code, output = check(domestic("tencent", templates_file, CAREVISIT_TENCENT_ACCOUNT="individual"))
    assert code == 2
    assert "[tencent.sms.coordinator_emergency]: community must be shortened" in output
    assert "a name longer than 12 characters is cut to its first 12" in output


def test_config_check_names_an_unreadable_templates_file(templates_file: Path, tmp_path: Path) -> None:
    code, output = check(domestic("aliyun", tmp_path / "absent.toml"))
    assert code == 2 and "absent.toml: cannot read" in output


def test_calls_on_tencent_need_the_voice_app(templates_file: Path) -> None:
    environment = domestic("tencent", templates_file)
    del environment["CAREVISIT_TENCENT_VOICE_APP_ID"]
    code, output = check(environment)
    assert code == 2 and "needs CAREVISIT_TENCENT_VOICE_APP_ID" in output


def test_config_check_names_a_bad_limits_file(templates_file: Path, tmp_path: Path) -> None:
    limits = tmp_path / "limits.toml"
    limits.write_text("[tencent.sms]\nper_week = 3\n", encoding="utf-8")
    code, output = check(domestic("tencent", templates_file, CAREVISIT_PAGER_LIMITS_FILE=str(limits)))
    assert code == 2 and "unknown limit 'per_week'" in output


def test_config_check_on_the_console_pager_says_nothing_is_sent() -> None:
    code, output = check({})
    assert code == 0 and "Pager: console" in output and "nothing is sent" in output


def test_config_check_lists_the_push_urls_to_set_in_the_console_with_the_secret_masked(templates_file: Path) -> None:
    code, output = check(domestic("aliyun", templates_file))
    assert code == 0, output
    for push in AliyunPager.push_types:
        assert f"https://care.example.cn/pager/aliyun/{CALLBACK_SECRET[:4]}****{CALLBACK_SECRET[-2:]}/{push}" in output
    assert CALLBACK_SECRET not in output
