"""volunteer sign-in: one-time links to the volunteer app and the devices they bind (hashes of tokens only)

Revision ID: 0015_volunteer_sign_in
Revises: 0014_chat_recipients
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carevisit.storage.types

revision: str = "0015_volunteer_sign_in"
down_revision: str | None = "0014_chat_recipients"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volunteer_sign_in_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("volunteer_sign_in_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_sign_in_links_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "volunteer_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("volunteer_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteer_devices_volunteer_id"), ["volunteer_id"], unique=False)


def downgrade() -> None:
    op.drop_table("volunteer_devices")
    op.drop_table("volunteer_sign_in_links")
