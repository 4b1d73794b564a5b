"""outbox notices: a page is a kind plus variables (domestic SMS and voice send only approved templates), kept
beside the text rendered from our catalogue, which Twilio sends and pages show.

Revision ID: 0012_outbox_notices
Revises: 0011_dashboard_indexes
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_outbox_notices"
down_revision: str | None = "0011_dashboard_indexes"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("notice_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("notice_params")
        batch_op.drop_column("notice_kind")
