"""outbox: index (conversation_id, status) instead of conversation_id alone

Revision ID: b7e2d4c9a013
Revises: a7d3c9e15b42
Create Date: 2026-11-30 14:45:00

The outbox worker's claim checks, per due item, that its conversation has no
older item still pending or sending, and whether another one is pending. With
an index on conversation_id alone both read every outbox row the conversation
ever had, so each reply's claim grew with the conversation's history (3,000
sent replies: 0.8 ms per claim on SQLite, 30,000: 7 ms). With the status in
the index both are a seek. The composite index serves every lookup by
conversation_id the old one did (and the foreign key's cascade), so that one
goes. See docs/benchmarks.md, "Tail latency".
"""
from typing import Sequence, Union

from alembic import op


revision: str = 'b7e2d4c9a013'
down_revision: Union[str, Sequence[str], None] = 'a7d3c9e15b42'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_outbox_conversation_status', 'outbox', ['conversation_id', 'status'], unique=False)
    op.drop_index('ix_outbox_conversation_id', table_name='outbox')


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index('ix_outbox_conversation_id', 'outbox', ['conversation_id'], unique=False)
    op.drop_index('ix_outbox_conversation_status', table_name='outbox')
