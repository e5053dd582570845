"""privacy: breach register

Revision ID: 112226c366b8
Revises: a583a5d43721
Create Date: 2026-11-30 10:24:08.381961

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '112226c366b8'
down_revision: Union[str, Sequence[str], None] = 'a583a5d43721'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('breaches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('remediation', sa.Text(), nullable=False),
    sa.Column('data_classes', sa.JSON(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('discovered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notify_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_breaches_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breaches')),
    sa.UniqueConstraint('number', name=op.f('uq_breaches_number'))
    )
    op.create_table('breach_subjects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('breach_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_in_time', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['breach_id'], ['breaches.id'], name=op.f('fk_breach_subjects_breach_id_breaches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_breach_subjects')),
    sa.UniqueConstraint('breach_id', 'customer_id', name=op.f('uq_breach_subjects_breach_id_customer_id'))
    )
    with op.batch_alter_table('breach_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_breach_subjects_breach_id'), ['breach_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_breach_subjects_customer_id'), ['customer_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('breach_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_breach_subjects_customer_id'))
        batch_op.drop_index(batch_op.f('ix_breach_subjects_breach_id'))

    op.drop_table('breach_subjects')
    op.drop_table('breaches')
