"""The installation's own secrets (`models.InstallationSecret`), made once, the same ever after."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from carevisit.storage.models import InstallationSecret

ID_CARD_KEY = "id_card_hmac"

_TABLE = InstallationSecret.__table__  # type: ignore[attr-defined]


async def secret(connection: AsyncConnection, name: str) -> bytes:
    """The key named `name`, made (32 random bytes) the first time it is asked for. Two processes asking at once get
    the same key: the second insert does nothing. Does not commit: the key is kept with the caller's transaction."""
    found = (await connection.execute(select(_TABLE.c.value).where(_TABLE.c.name == name))).scalar_one_or_none()
    if found is None:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_TABLE).values(name=name, value=secrets.token_hex(32)).on_conflict_do_nothing()
        await connection.execute(insert)
        found = (await connection.execute(select(_TABLE.c.value).where(_TABLE.c.name == name))).scalar_one()
    return bytes.fromhex(found)
