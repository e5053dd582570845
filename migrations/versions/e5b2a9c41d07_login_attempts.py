"""login attempts: throttle staff password guessing (handoff/throttle.py)

Revision ID: e5b2a9c41d07
Revises: c3d1f0a2b7e4
Create Date: 2026-11-30 07:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'e5b2a9c41d07'
down_revision: Union[str, Sequence[str], None] = 'c3d1f0a2b7e4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_key', sa.String(length=64), nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('throttled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempts'))
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_account_time', ['account_key', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempts_address_time', ['address_key', 'created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_address_time')
        batch_op.drop_index('ix_login_attempts_account_time')
    op.drop_table('login_attempts')
