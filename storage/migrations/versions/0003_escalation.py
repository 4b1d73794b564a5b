"""escalation: an index for per-number throttles and replies (outbox by number and time)

Revision ID: 0003_escalation
Revises: 0002_scheduler
Create Date: 2026-11-25 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_escalation"
down_revision: str | None = "0002_scheduler"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_to_created", ["to_address", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_to_created")
