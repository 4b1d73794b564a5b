"""Service settings, read from `CAREVISIT_*` environment variables and an optional `.env` file.

Only the composition root (`carevisit.bootstrap`) loads settings; everything else gets plain values passed in.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carevisit.config.data_dir import default_data_dir, photos_dir

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./carevisit.db"
_SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
_BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
CALLBACK_SECRET_MIN = 24
# WeCom's callback settings as its admin console makes them: the Token is at most 32 letters and digits, the
# EncodingAESKey 43 characters of base64 (32 bytes once "=" is added).
_WECOM_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")
_WECOM_AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
# All of them, or WeCom is off: the app cannot send without its secret nor hear a tap without its callback settings.
WECOM_NEEDED = ("wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token", "wecom_aes_key")
# What each domestic pager cannot page without (CAREVISIT_TENCENT_VOICE_APP_ID only when the policy calls: checked
# by `carevisit config check`). Both push receipts and key presses unsigned to PUBLIC_URL/pager/<provider>/<secret>/.
_DOMESTIC: dict[str, tuple[str, ...]] = {
    "aliyun": (
        "aliyun_access_key_id",
        "aliyun_access_key_secret",
        "aliyun_sign_name",
        "pager_templates_file",
        "public_url",
        "pager_callback_secret",
    ),
    "tencent": (
        "tencent_secret_id",
        "tencent_secret_key",
        "tencent_sms_app_id",
        "tencent_sign_name",
        "pager_templates_file",
        "public_url",
        "pager_callback_secret",
    ),
}


class SettingsError(ValueError):
    """Settings could not be loaded; `problems` maps each `CAREVISIT_*` variable to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CAREVISIT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = DEFAULT_DATABASE_URL
    # Where the service keeps files (photos under <data dir>/photos/). Unset: beside the SQLite database file, else
    # ./carevisit-data. Filled in when the settings load, so `config check` shows the folder in use.
    data_dir: Path | None = Field(default=None, validate_default=True)
    timezone: str = "Asia/Shanghai"
    default_region: str = "CN"
    # Completes a local landline written on a roster without its area code (62401246 → 010-62401246).
    default_area_code: str | None = None
    language: Literal["zh_CN", "en"] = "zh_CN"

    telegram_token: SecretStr | None = None
    telegram_api_base: AnyHttpUrl | None = None
    # Shared with Telegram in webhook mode so forged webhook posts are refused.
    telegram_webhook_secret: SecretStr | None = None
    # The bot's @username for the dashboard's invitation links; asked from Telegram (getMe) when not set.
    telegram_bot_username: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base: AnyHttpUrl | None = None

    # Which provider pages families: twilio, aliyun, tencent or console (nothing sent). Unset: twilio when its
    # credentials are set, else console.
    pager: Literal["twilio", "aliyun", "tencent", "console"] | None = None
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sign_name: str | None = None
    # host[:port] of the SMS and voice APIs (default: Aliyun's); tests point the official SDKs at a fake.
    aliyun_sms_endpoint: str | None = None
    aliyun_voice_endpoint: str | None = None
    # The purchased number IvrCall calls from (专属号码); required for press-1 calls.
    aliyun_called_show_number: str | None = None
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_sms_app_id: str | None = None
    tencent_voice_app_id: str | None = None
    tencent_sign_name: str | None = None
    # An individual-verified Tencent account allows 12 characters a variable and cannot raise its limits.
    tencent_account: Literal["enterprise", "individual"] = "enterprise"
    tencent_sms_endpoint: str | None = None
    tencent_voice_endpoint: str | None = None
    # The approved templates of the domestic providers (TOML; docs/providers.md).
    pager_templates_file: Path | None = None
    # The unguessable part of the path at which Aliyun and Tencent push receipts and key presses (they sign nothing).
    pager_callback_secret: SecretStr | None = None
    # The provider's frequency limits, when the operator's account has other than the defaults (TOML;
    # docs/providers.md).
    pager_limits_file: Path | None = None

    # WeCom (企业微信): the operator's self-built app, for volunteers and coordinators (docs: CHANNELS.md §1.1).
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    # The callback's Token and EncodingAESKey (43 characters), as set in the app's 接收消息 settings.
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    # Other hosts for qyapi.weixin.qq.com and open.weixin.qq.com's authorize page (tests).
    wecom_api_base: AnyHttpUrl | None = None
    wecom_oauth_base: AnyHttpUrl | None = None

    public_url: AnyHttpUrl | None = None
    # Signs one-time acknowledgement links and dashboard sessions; required once PUBLIC_URL is set.
    secret_key: SecretStr | None = None
    redis_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    # How long a page being sent belongs to its process: a process that dies mid-send leaves its pages to
    # another after this (to be reconciled with Twilio, never blindly resent). Renewed while a send is under way.
    outbox_lease_seconds: int = Field(default=120, ge=5, le=3600)

    plan_time: time = time(1, 0)
    reminder_time: time = time(9, 0)
    visit_policy_file: Path | None = None
    escalation_policy_file: Path | None = None
    # Shown to a volunteer who reports suspected infectious symptoms.
    epidemic_instructions: str = "请做好个人防护，保持距离，立即联系社区卫生服务中心，按当地疫情防控规定处置。"

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme not in _SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(f"use one of {', '.join(s + '://' for s in _SUPPORTED_DATABASE_SCHEMES)}, not {scheme!r}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_default(cls, value: Path | None, info: ValidationInfo) -> Path:
        return value if value is not None and str(value).strip() else default_data_dir(info.data.get("database_url"))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (for example Asia/Shanghai)") from None
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (for example CN)")
        return region

    @field_validator("default_area_code")
    @classmethod
    def _area_code_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        code = value.strip().rstrip("-")
        # 010 and 02X have three digits; every other Chinese area code four (0755, 0571).
        if not re.fullmatch(r"010|02\d|0[3-9]\d{2}", code):
            raise ValueError(f"not a Chinese area code {value!r} (for example 010 or 0755)")
        return code

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TELEGRAM_TOKEN.match(value.get_secret_value()):
            raise ValueError("not a Telegram bot token (expected 123456:ABC…)")
        return value

    @field_validator("telegram_bot_username")
    @classmethod
    def _username_shape(cls, value: str | None) -> str | None:
        if value is not None and not _BOT_USERNAME.match(value.lstrip("@")):
            raise ValueError("not a Telegram bot username (5-32 letters, digits or _, e.g. carevisit_bot)")
        return value.lstrip("@") if value else value

    @field_validator("twilio_account_sid")
    @classmethod
    def _sid_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"AC[0-9a-fA-F]{32}", value):
            raise ValueError("not a Twilio account SID (AC followed by 32 hex digits)")
        return value

    @field_validator("twilio_from")
    @classmethod
    def _from_is_e164(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise ValueError("give the sending number in international form, e.g. +8613800138000") from None
        if not phonenumbers.is_valid_number(number):
            raise ValueError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("pager_callback_secret")
    @classmethod
    def _callback_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        secret = value.get_secret_value()
        # It is a path segment the providers are given: long enough not to be guessed, and safe in a URL.
        if len(secret) < CALLBACK_SECRET_MIN or not re.fullmatch(r"[A-Za-z0-9_-]+", secret):
            raise ValueError(f"use at least {CALLBACK_SECRET_MIN} letters, digits, - or _ (e.g. openssl rand -hex 16)")
        return value

    @field_validator("wecom_token")
    @classmethod
    def _wecom_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WECOM_TOKEN.match(value.get_secret_value()):
            raise ValueError("not a WeCom callback Token (at most 32 letters or digits, as 接收消息 shows it)")
        return value

    @field_validator("wecom_aes_key")
    @classmethod
    def _wecom_aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WECOM_AES_KEY.match(value.get_secret_value()):
            raise ValueError("not a WeCom EncodingAESKey (43 letters, digits, + or /, as 接收消息 shows it)")
        return value

    @model_validator(mode="after")
    def _wecom_complete(self) -> Settings:
        """Some WeCom settings without the others is a half-configured app, not WeCom off: say what is missing."""
        missing = wecom_missing(self)
        if missing and len(missing) < len(WECOM_NEEDED):
            raise ValueError(f"WeCom is half configured: set {', '.join(missing)} as well (or none of them)")
        if not missing and self.public_url is None:
            raise ValueError("WeCom needs CAREVISIT_PUBLIC_URL: its callback and every message's link are under it")
        return self

    @model_validator(mode="after")
    def _pager_complete(self) -> Settings:
        """The chosen pager's settings are all there: the service must not start unable to page."""
        if self.pager == "twilio" and not self.twilio_enabled:
            raise ValueError(
                "CAREVISIT_PAGER=twilio needs CAREVISIT_TWILIO_ACCOUNT_SID and CAREVISIT_TWILIO_AUTH_TOKEN"
            )
        if self.pager not in _DOMESTIC:
            return self
        missing = [f"CAREVISIT_{name.upper()}" for name in _DOMESTIC[self.pager] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"CAREVISIT_PAGER={self.pager} needs {', '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _twilio_complete(self) -> Settings:
        given = [self.twilio_account_sid, self.twilio_auth_token]
        if any(given) and not all(given):
            raise ValueError("CAREVISIT_TWILIO_ACCOUNT_SID and CAREVISIT_TWILIO_AUTH_TOKEN go together")
        if all(given) and not (self.twilio_from or self.twilio_messaging_service_sid):
            raise ValueError(
                "with Twilio credentials set CAREVISIT_TWILIO_FROM or CAREVISIT_TWILIO_MESSAGING_SERVICE_SID"
            )
        if self.public_url is not None and self.secret_key is None:
            raise ValueError("CAREVISIT_PUBLIC_URL needs CAREVISIT_SECRET_KEY to sign acknowledgement links")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def photos_dir(self) -> Path:
        """Where the volunteers' photos are kept: `<data dir>/photos/`."""
        return photos_dir(self.data_dir or default_data_dir(self.database_url))

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None

    @property
    def twilio_enabled(self) -> bool:
        return self.twilio_account_sid is not None and self.twilio_auth_token is not None

    @property
    def wecom_enabled(self) -> bool:
        return not wecom_missing(self)

    @property
    def pager_in_use(self) -> str:
        """twilio, aliyun, tencent or console: CAREVISIT_PAGER, or unset twilio when its credentials are set."""
        return pager_name(self)


def pager_name(settings: Settings) -> str:
    """The pager the deployment pages through (what make_pager builds)."""
    if settings.pager is not None:
        return settings.pager
    return "twilio" if settings.twilio_enabled else "console"


def wecom_missing(settings: Settings) -> list[str]:
    """The WeCom settings not given, as variable names."""
    return [f"CAREVISIT_{name.upper()}" for name in WECOM_NEEDED if getattr(settings, name) is None]


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning pydantic's errors into a `SettingsError` that names each variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_problems_by_variable(error)) from None


def _problems_by_variable(error: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for detail in error.errors():
        field = str(detail["loc"][0]) if detail["loc"] else ""
        name = f"CAREVISIT_{field.upper()}" if field else "settings"
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems[name] = message
    return problems


def masked(settings: Settings) -> dict[str, str]:
    """Every setting as text for `carevisit config check`, with secrets and database passwords masked."""
    shown: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            text = _mask(value.get_secret_value())
        elif name == "database_url":
            text = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:****@", value)
        elif name == "redis_url" and value:
            text = re.sub(r"://([^@]*)@", "://****@", value)
        else:
            text = "" if value is None else str(value)
        shown[f"CAREVISIT_{name.upper()}"] = text
    return shown


def _mask(secret: str) -> str:
    return "****" if len(secret) < 12 else f"{secret[:4]}****{secret[-2:]}"
