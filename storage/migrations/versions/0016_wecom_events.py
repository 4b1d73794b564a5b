"""wecom events: one row per WeCom callback handled, its dedupe key unique, so retries and replays change nothing

Revision ID: 0016_wecom_events
Revises: 0015_volunteer_sign_in
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carevisit.storage.types

revision: str = "0016_wecom_events"
# 0015_volunteer_sign_in lives on the app-signin branch; until both are merged this branch chains to 0014.
down_revision: str | None = "0015_volunteer_sign_in"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wecom_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("received_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )


def downgrade() -> None:
    op.drop_table("wecom_events")
