"""ack codes: the one-time codes domestic SMS carry instead of a link (kept as keyed digests only), and the wrong
codes typed on `/a`, which every web process counts for the rate limits

Revision ID: 0013_ack_codes
Revises: 0012_outbox_notices
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carevisit.storage.types

revision: str = "0013_ack_codes"
down_revision: str | None = "0012_outbox_notices"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ack_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("who_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("who_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "who_kind", "who_id", name="uq_ack_codes_incident_who"),
    )
    with op.batch_alter_table("ack_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ack_codes_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ack_codes_digest"), ["digest"], unique=False)

    op.create_table(
        "ack_code_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ack_code_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ack_code_failures_at"), ["at"], unique=False)
        batch_op.create_index("ix_ack_code_failures_client_at", ["client", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("ack_code_failures")
    op.drop_table("ack_codes")
