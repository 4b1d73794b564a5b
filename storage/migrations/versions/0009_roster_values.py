"""roster values: the elder's second phone, 村民小组, social-assistance programmes, the ID-card number as a masked
form and a keyed hash (never in clear), and the installation's own secrets (the key of those hashes)

Revision ID: 0009_roster_values
Revises: 0008_contacts_removed_at
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_roster_values"
down_revision: str | None = "0008_contacts_removed_at"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "installation_secrets",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("elders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone2", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column("phone2_kind", sa.Enum(
            "mobile", "fixed_line", "mobile_or_fixed", "other", name="phonekind", native_enum=False,
            create_constraint=False, length=23,
        ), nullable=True))  # fmt: skip
        batch_op.add_column(
            sa.Column("village_group", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("id_card_masked", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True))
        batch_op.add_column(sa.Column("id_card_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("programmes", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_elders_id_card_hash"), ["id_card_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("elders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_elders_id_card_hash"))
        batch_op.drop_column("programmes")
        batch_op.drop_column("id_card_hash")
        batch_op.drop_column("id_card_masked")
        batch_op.drop_column("village_group")
        batch_op.drop_column("phone2_kind")
        batch_op.drop_column("phone2")
    op.drop_table("installation_secrets")
