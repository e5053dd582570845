"""ticket: the new expectation the handler sets for an overdue ticket

Revision ID: e7a91c4d2b10
Revises: e5b2a9c41d07
Create Date: 2026-11-30 08:00:00

A status update for an overdue ticket must not repeat a deadline already
past: it gives the date the person handling it now expects (set in the
console's ticket page), or says a person will call with it.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = 'e7a91c4d2b10'
down_revision: Union[str, Sequence[str], None] = 'e5b2a9c41d07'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expected_resolution_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('expected_resolution_at')
