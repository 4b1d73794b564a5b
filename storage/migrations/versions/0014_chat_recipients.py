"""chat recipients: a chat message goes to (channel, id as text), so Telegram chat ids and WeCom userids live side by
side; volunteers and coordinators may be linked to a WeCom userid; a message may carry a link to its page

Revision ID: 0014_chat_recipients
Revises: 0013_ack_codes
Create Date: 2026-12-01 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014_chat_recipients"
down_revision: str | None = "0013_ack_codes"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_PEOPLE = ("volunteers", "coordinators")


def upgrade() -> None:
    with op.batch_alter_table("chat_outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="telegram")
        )
        batch_op.add_column(sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    # Every queued message so far was Telegram's: its chat id becomes the recipient's text id.
    op.execute("UPDATE chat_outbox SET recipient = CAST(chat_id AS VARCHAR(64))")
    with op.batch_alter_table("chat_outbox", schema=None) as batch_op:
        batch_op.alter_column("recipient", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column("channel", server_default=None)
        batch_op.drop_index("ix_chat_outbox_status_due")
        batch_op.create_index("ix_chat_outbox_status_due", ["channel", "status", "not_before"], unique=False)
        batch_op.drop_column("chat_id")
    for table in _PEOPLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("wecom_userid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
            batch_op.create_unique_constraint(f"uq_{table}_wecom_userid", ["wecom_userid"])


def downgrade() -> None:
    for table in _PEOPLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_wecom_userid", type_="unique")
            batch_op.drop_column("wecom_userid")
    # WeCom messages have no Telegram chat to go back to.
    op.execute("DELETE FROM chat_outbox WHERE channel <> 'telegram'")
    with op.batch_alter_table("chat_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE chat_outbox SET chat_id = CAST(recipient AS BIGINT)")
    with op.batch_alter_table("chat_outbox", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_index("ix_chat_outbox_status_due")
        batch_op.create_index("ix_chat_outbox_status_due", ["status", "not_before"], unique=False)
        batch_op.drop_column("link")
        batch_op.drop_column("recipient")
        batch_op.drop_column("channel")
