"""privacy: legal holds and held erasure items

Revision ID: a583a5d43721
Revises: e5ee51ad97b4
Create Date: 2026-11-30 10:12:08.251986

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a583a5d43721'
down_revision: Union[str, Sequence[str], None] = 'e5ee51ad97b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('set_by', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_by', sa.Integer(), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lifted_by'], ['users.id'], name=op.f('fk_legal_holds_lifted_by_users')),
    sa.ForeignKeyConstraint(['set_by'], ['users.id'], name=op.f('fk_legal_holds_set_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_legal_holds_record', ['record_type', 'record_id'], unique=False)

    op.create_table('erasure_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=16), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['rights_requests.id'], name=op.f('fk_erasure_items_request_id_rights_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_items')),
    sa.UniqueConstraint('request_id', 'record_type', 'record_id', name=op.f('uq_erasure_items_request_id_record_type_record_id'))
    )
    with op.batch_alter_table('erasure_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_items_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('erasure_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_items_request_id'))

    op.drop_table('erasure_items')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_legal_holds_record')
        batch_op.drop_index(batch_op.f('ix_legal_holds_customer_id'))

    op.drop_table('legal_holds')
