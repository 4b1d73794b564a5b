"""Values that belong to one installation (one database) and must stay the same for its whole life."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class InstallationSecret(SQLModel, table=True):
    """A random key per purpose, made on first use (`storage.installation.secret`): e.g. the key of ID-card hashes.

    It lives in the database, not in a setting, because a changed key silently breaks matching on every re-import;
    it protects the hashes from anyone holding a copy of the hashes alone, not from whoever holds the database.
    """

    __tablename__ = "installation_secrets"

    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=128)  # hex
