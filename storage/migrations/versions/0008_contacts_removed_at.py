"""emergency contacts the roster no longer lists stay as history when a message names them

Revision ID: 0008_contacts_removed_at
Revises: 0007_proc_claims
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carevisit.storage.types

revision: str = '0008_contacts_removed_at'
down_revision: str | None = '0007_proc_claims'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('emergency_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', carevisit.storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('emergency_contacts', schema=None) as batch_op:
        batch_op.drop_column('removed_at')
