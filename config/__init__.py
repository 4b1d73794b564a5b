"""Settings and the shipped defaults (visit policy, escalation policy)."""

from carevisit.config.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    SettingsError,
    load_settings,
    masked,
    pager_name,
)

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "SettingsError", "load_settings", "masked", "pager_name"]
