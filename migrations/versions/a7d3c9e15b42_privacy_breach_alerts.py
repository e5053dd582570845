"""privacy breach alerts: "due soon" and "overdue" on the breach notification clock

Revision ID: a7d3c9e15b42
Revises: f3b8e21c7a55
Create Date: 2026-11-30 14:00:00

Issue #18: the breach register's 72-hour clock (UU 27/2022 Pasal 46) gets the
alerts the rights clock already has; one row per (breach, key) is the claim
that makes each alert fire once (``desk.periodic.claim_once``).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'a7d3c9e15b42'
down_revision: Union[str, Sequence[str], None] = 'f3b8e21c7a55'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('breach_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('breach_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['breach_id'], ['breaches.id'], name=op.f('fk_breach_alerts_breach_id_breaches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breach_alerts')),
    sa.UniqueConstraint('breach_id', 'key', name=op.f('uq_breach_alerts_breach_id_key'))
    )
    with op.batch_alter_table('breach_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breach_alerts_breach_id'), ['breach_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('breach_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breach_alerts_breach_id'))

    op.drop_table('breach_alerts')
