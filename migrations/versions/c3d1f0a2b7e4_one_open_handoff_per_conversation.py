"""one open handoff per conversation

Revision ID: c3d1f0a2b7e4
Revises: 96c46fb27a52
Create Date: 2026-11-23 01:30:00

The one-statement handoff (handoff.fastpath) inserts a handoff unless the
conversation has an open one; this partial unique index makes the database
refuse a second open handoff even when two desk instances race.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'c3d1f0a2b7e4'
down_revision: Union[str, Sequence[str], None] = '96c46fb27a52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_OPEN = sa.text("status IN ('waiting', 'assigned')")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('uq_handoffs_open_conversation', ['conversation_id'], unique=True,
                              postgresql_where=_OPEN, sqlite_where=_OPEN)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('uq_handoffs_open_conversation', postgresql_where=_OPEN, sqlite_where=_OPEN)
