"""escalation: outbox leases for several workers, one row per provider sid, receipts of Twilio requests

Revision ID: 0006_escalation_claims
Revises: 0005_jobs_in_memory
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carevisit.storage.types

revision: str = "0006_escalation_claims"
down_revision: str | None = "0005_jobs_in_memory"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Rows that share a sid (two uncertain calls reconciled onto one, or the console pager's counter starting
    # again after a restart) keep it on the first row only; the timeline still has it in delivery_events.
    op.execute(
        "UPDATE outbox SET provider_sid = NULL, "
        "error_message = 'provider sid also recorded on an earlier row; cleared for the unique index' "
        "WHERE provider_sid IS NOT NULL AND id NOT IN "
        "(SELECT first_id FROM (SELECT MIN(id) AS first_id FROM outbox "
        "WHERE provider_sid IS NOT NULL GROUP BY provider_sid) AS firsts)"
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", carevisit.storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("ix_outbox_provider_sid")
        batch_op.create_index("ix_outbox_provider_sid", ["provider_sid"], unique=True)

    op.create_table(
        "twilio_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("received_at", carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("twilio_receipts")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_provider_sid")
        batch_op.create_index("ix_outbox_provider_sid", ["provider_sid"], unique=False)
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
