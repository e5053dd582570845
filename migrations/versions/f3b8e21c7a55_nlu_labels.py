"""nlu labels: staff give misunderstood borrower messages their right intent

Revision ID: f3b8e21c7a55
Revises: b4e8f1a9c2d6
Create Date: 2026-11-30 10:45:00

Issue #16: an agent or supervisor labels a borrower message with the intent
it should have had; ``make nlu-export-reviewed`` turns the labels into
training lines for the bot. One label per message (a relabel replaces it;
the audit log keeps every change).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'f3b8e21c7a55'
down_revision: Union[str, Sequence[str], None] = 'b4e8f1a9c2d6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'nlu_labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('intent', sa.String(length=64), nullable=False),
        sa.Column('labelled_by', sa.Integer(), nullable=True),
        sa.Column('labelled_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['labelled_by'], ['users.id'], name=op.f('fk_nlu_labels_labelled_by_users')),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_nlu_labels_message_id_messages'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_labels')),
        sa.UniqueConstraint('message_id', name=op.f('uq_nlu_labels_message_id')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('nlu_labels')
