"""outbox: delivery status from the provider, the form a message went out in, held messages

Revision ID: f3c8a1d6b952
Revises: d7a2c9e14b30
Create Date: 2026-11-30 10:20:00

WhatsApp accepts free text outside its 24-hour customer-care window and fails
it later (63016); the desk now records what the provider reports per message
(Twilio status callbacks, Telegram's Forbidden), sends a template outside the
window, and holds a message that has none. See docs/channels.md.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = 'f3c8a1d6b952'
down_revision: Union[str, Sequence[str], None] = 'd7a2c9e14b30'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('template_only', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('delivery_error', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('delivery_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_provider_message_id', ['provider_message_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_provider_message_id')
        batch_op.drop_column('delivery_updated_at')
        batch_op.drop_column('delivery_error')
        batch_op.drop_column('delivery_status')
        batch_op.drop_column('template_only')
        batch_op.drop_column('form')
