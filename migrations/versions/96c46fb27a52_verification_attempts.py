"""verification attempts: throttle identity-check guessing (desk/verification.py)

Revision ID: 96c46fb27a52
Revises: a95427cd814e
Create Date: 2026-11-23 01:10:22.193500

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '96c46fb27a52'
down_revision: Union[str, Sequence[str], None] = 'a95427cd814e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('verification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_public_id', sa.String(length=64), nullable=False),
    sa.Column('phone_key', sa.String(length=64), nullable=False),
    sa.Column('loan_key', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('throttled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_attempts'))
    )
    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_verification_conversation_time', ['conversation_public_id', 'created_at'], unique=False)
        batch_op.create_index('ix_verification_loan_time', ['loan_key', 'created_at'], unique=False)
        batch_op.create_index('ix_verification_phone_time', ['phone_key', 'created_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_phone_time')
        batch_op.drop_index('ix_verification_loan_time')
        batch_op.drop_index('ix_verification_conversation_time')

    op.drop_table('verification_attempts')
