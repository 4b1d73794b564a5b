"""Settings: sensible defaults, and a bad value is a clear message naming the variable."""

from __future__ import annotations

import pytest

from carevisit.config import DEFAULT_DATABASE_URL, SettingsError, load_settings, masked

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no stray .env
    import os

    for name in list(os.environ):
        if name.startswith("CAREVISIT_"):
            monkeypatch.delenv(name)


def test_defaults_run_locally_with_nothing_set() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.timezone == "Asia/Shanghai"
    assert (settings.default_region, settings.language) == ("CN", "zh_CN")
    assert not settings.telegram_enabled and not settings.twilio_enabled


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("CAREVISIT_LANGUAGE=en\nCAREVISIT_WEB_PORT=9000\n", encoding="utf-8")
    monkeypatch.setenv("CAREVISIT_TIMEZONE", "Europe/Berlin")
    settings = load_settings()
    assert (settings.language, settings.web_port, settings.timezone) == ("en", 9000, "Europe/Berlin")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CAREVISIT_DATABASE_URL", "mysql://x/y", "use one of"),
        ("CAREVISIT_TIMEZONE", "Asia/Peking", "unknown time zone"),
        ("CAREVISIT_DEFAULT_REGION", "XX", "unknown phone region"),
        ("CAREVISIT_LANGUAGE", "fr", "zh_CN"),
        ("CAREVISIT_TELEGRAM_TOKEN", "not-a-token", "not a Telegram bot token"),
        ("CAREVISIT_TWILIO_ACCOUNT_SID", "AC123", "not a Twilio account SID"),
        ("CAREVISIT_TWILIO_FROM", "12345", "international form"),
        ("CAREVISIT_WEB_PORT", "70000", "less than or equal"),
        ("CAREVISIT_PUBLIC_URL", "not a url", "URL"),
    ],
)
def test_a_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert variable in caught.value.problems
    assert message in caught.value.problems[variable]


def test_half_configured_twilio_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREVISIT_TWILIO_ACCOUNT_SID", SID)
    with pytest.raises(SettingsError, match="CAREVISIT_TWILIO_AUTH_TOKEN"):
        load_settings()


def test_a_public_url_needs_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREVISIT_PUBLIC_URL", "https://care.example.org")
    with pytest.raises(SettingsError, match="CAREVISIT_SECRET_KEY"):
        load_settings()


def test_secrets_and_database_passwords_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREVISIT_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("CAREVISIT_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("CAREVISIT_TWILIO_AUTH_TOKEN", "f" * 32)
    monkeypatch.setenv("CAREVISIT_TWILIO_FROM", "+8613800138000")
    monkeypatch.setenv("CAREVISIT_DATABASE_URL", "postgresql+asyncpg://care:s3cret-pw@db:5432/care")
    shown = masked(load_settings())
    text = "\n".join(shown.values())
    assert "s3cret-pw" not in text and TOKEN not in text and "f" * 32 not in text
    assert shown["CAREVISIT_DATABASE_URL"] == "postgresql+asyncpg://care:****@db:5432/care"
    assert shown["CAREVISIT_TWILIO_FROM"] == "+8613800138000"


@pytest.mark.parametrize(("value", "expected"), [("010", "010"), ("0755", "0755"), (" 021- ", "021"), ("", None)])
def test_the_default_area_code_is_a_chinese_one(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    monkeypatch.setenv("CAREVISIT_DEFAULT_AREA_CODE", value)
    assert load_settings().default_area_code == expected


@pytest.mark.parametrize("value", ["10", "0100", "075", "755", "0055", "abc"])
def test_a_wrong_area_code_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CAREVISIT_DEFAULT_AREA_CODE", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "010 or 0755" in refused.value.problems["CAREVISIT_DEFAULT_AREA_CODE"]


def test_the_data_dir_is_beside_the_sqlite_file_else_in_the_working_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    beside = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db' / 'cv.db'}")
    assert beside.data_dir == tmp_path / "db" / "carevisit-data"
    assert beside.photos_dir == tmp_path / "db" / "carevisit-data" / "photos"
    postgres = load_settings(database_url="postgresql+asyncpg://carevisit:secret@db/carevisit")
    assert postgres.data_dir == Path("carevisit-data")
    assert load_settings(database_url="sqlite+aiosqlite:///:memory:").data_dir == Path("carevisit-data")
    chosen = load_settings(data_dir=str(tmp_path / "files"))
    assert chosen.photos_dir == tmp_path / "files" / "photos"
    assert masked(chosen)["CAREVISIT_DATA_DIR"] == str(tmp_path / "files")
