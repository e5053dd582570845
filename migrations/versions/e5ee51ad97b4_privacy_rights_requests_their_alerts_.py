"""privacy: rights requests, their alerts, the retention ledger

Revision ID: e5ee51ad97b4
Revises: f3c8a1d6b952
Create Date: 2026-11-30 10:05:49.018535

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e5ee51ad97b4'
down_revision: Union[str, Sequence[str], None] = 'f3c8a1d6b952'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('anonymised_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_type', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anonymised_records')),
    sa.UniqueConstraint('record_type', 'record_id', name=op.f('uq_anonymised_records_record_type_record_id'))
    )
    op.create_table('rights_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('requester_name', sa.String(length=128), nullable=False),
    sa.Column('requester_contact', sa.String(length=256), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sla_policy', sa.String(length=32), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verification_method', sa.String(length=32), nullable=True),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('answered_in_time', sa.Boolean(), nullable=True),
    sa.Column('status_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_rights_requests_assignee_id_users')),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_rights_requests_closed_by_users')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_rights_requests_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_rights_requests_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_requests')),
    sa.UniqueConstraint('number', name=op.f('uq_rights_requests_number')),
    sa.UniqueConstraint('status_token', name=op.f('uq_rights_requests_status_token'))
    )
    with op.batch_alter_table('rights_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_requests_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_requests_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_requests_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_rights_requests_status_due', ['status', 'due_at'], unique=False)

    op.create_table('rights_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['rights_requests.id'], name=op.f('fk_rights_alerts_request_id_rights_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rights_alerts')),
    sa.UniqueConstraint('request_id', 'key', name=op.f('uq_rights_alerts_request_id_key'))
    )
    with op.batch_alter_table('rights_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_alerts_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('rights_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rights_alerts_request_id'))

    op.drop_table('rights_alerts')
    with op.batch_alter_table('rights_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_rights_requests_status_due')
        batch_op.drop_index(batch_op.f('ix_rights_requests_customer_id'))
        batch_op.drop_index(batch_op.f('ix_rights_requests_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_rights_requests_assignee_id'))

    op.drop_table('rights_requests')
    op.drop_table('anonymised_records')
