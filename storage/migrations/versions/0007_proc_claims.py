"""several processes: leases named for any duty, Telegram chats claimed by the process handling them, the bot's
flow state in the database

Revision ID: 0007_proc_claims
Revises: 0006_escalation_claims
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carevisit.storage.types  # noqa: F401

revision: str = '0007_proc_claims'
down_revision: str | None = '0006_escalation_claims'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.rename_table('scheduler_leases', 'leader_leases')
    op.create_table('telegram_chat_claims',
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('expires_at', carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('chat_id')
    )
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_telegram_updates_chat_id'), ['chat_id'], unique=False)
    _backfill_chat_ids()
    op.create_table('bot_flow_states',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('updated_at', carevisit.storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('bot_flow_states')
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_updates_chat_id'))
        batch_op.drop_column('chat_id')
    op.drop_table('telegram_chat_claims')
    op.rename_table('leader_leases', 'scheduler_leases')


def _backfill_chat_ids() -> None:
    """Updates stored but not yet handled get their chat, as the processor now claims them by chat."""
    updates = sa.table('telegram_updates', sa.column('update_id'), sa.column('chat_id'), sa.column('payload', sa.JSON))
    bind = op.get_bind()
    pending = bind.execute(sa.select(updates.c.update_id, updates.c.payload).where(updates.c.payload.is_not(None)))
    for update_id, payload in pending.all():
        chat = _chat_of(payload or {})
        bind.execute(updates.update().where(updates.c.update_id == update_id).values(chat_id=chat))


def _chat_of(payload: dict) -> int:  # type: ignore[type-arg]
    # A copy of carevisit.bot.updates.chat_of as it stood: a migration must not change when the code does.
    for kind in ('message', 'edited_message', 'callback_query'):
        event = payload.get(kind)
        if isinstance(event, dict):
            sender = event.get('from') or event.get('chat') or {}
            return int(sender.get('id', 0))
    return 0
