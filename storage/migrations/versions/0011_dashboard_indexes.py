"""dashboard indexes: the visit rate and the unassigned count read (month, status, volunteer, elder) from the index
alone; last contact per elder is one backward step in (elder, status, done_at); overdue visits are a range of
(status, window_end). The (month, status) index is replaced by the longer one, which serves the same lookups.

Revision ID: 0011_dashboard_indexes
Revises: 0010_coordinator_sessions
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_dashboard_indexes"
down_revision: str | None = "0010_coordinator_sessions"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_month_status")
        batch_op.create_index(
            "ix_visits_month_status_volunteer_elder", ["month", "status", "volunteer_id", "elder_id"], unique=False
        )
        batch_op.create_index("ix_visits_elder_status_done", ["elder_id", "status", "done_at"], unique=False)
        batch_op.create_index("ix_visits_status_window_end", ["status", "window_end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_status_window_end")
        batch_op.drop_index("ix_visits_elder_status_done")
        batch_op.drop_index("ix_visits_month_status_volunteer_elder")
        batch_op.create_index("ix_visits_month_status", ["month", "status"], unique=False)
