"""inbound processing state, conversation lease, per-conversation dedup

Revision ID: d7a2c9e14b30
Revises: e7a91c4d2b10
Create Date: 2026-11-24 07:30:00

A stored inbound message carries how far the desk got with it (``state``,
``attempts``, ``last_error``), replies name the message they answer
(``reply_to_id``), and a conversation carries the processing lease of the
desk instance that may call the bot for it (``lease_owner``, ``lease_until``).
Deduplication moves from ``(channel, external_id)`` to ``(conversation_id,
external_id)``: the sender is its own column, never glued into the id.
Messages stored before this revision count as finished (``answered``).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'd7a2c9e14b30'
down_revision: Union[str, Sequence[str], None] = 'e7a91c4d2b10'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_RECEIVED = sa.text("state = 'received'")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reply_to_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_messages_channel_external_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_messages_conversation_id_external_id'),
                                          ['conversation_id', 'external_id'])
        batch_op.create_index('ix_messages_received', ['created_at'], unique=False,
                              postgresql_where=_RECEIVED, sqlite_where=_RECEIVED)
    op.execute("UPDATE messages SET state = 'answered' WHERE direction = 'in'")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_received', postgresql_where=_RECEIVED, sqlite_where=_RECEIVED)
        batch_op.drop_constraint(batch_op.f('uq_messages_conversation_id_external_id'), type_='unique')
        batch_op.create_unique_constraint('uq_messages_channel_external_id', ['channel', 'external_id'])
        batch_op.drop_column('reply_to_id')
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')
        batch_op.drop_column('state')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
