"""relationship ended: the lender's core's event, identity records tied to a customer

Revision ID: d9e3b6a1f274
Revises: c7d2a9e4b815
Create Date: 2026-11-30 17:00:00

Issue #18, item 4: identity records are kept at least 5 years after the
business relationship ends (UU 8/2010 Pasal 21(2)), so the retention schedule
counts them from a "relationship ended" event the lender's core reports
(``relationship_ends``, one row per customer). To count an identity check from
its customer's event, the check must name the customer:
``verification_attempts.customer_id`` is filled for existing rows from the
conversation the check was made in, where that conversation is (still) tied to
a verified customer, for its succeeded checks and the failed ones that named
the same phone number or loan id. ``attachments.customer_id`` keeps an identity document's
owner once its conversation is anonymised; nothing to fill for existing rows.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'd9e3b6a1f274'
down_revision: Union[str, Sequence[str], None] = 'c7d2a9e4b815'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the event table and the two customer columns; tie existing checks to their customers."""
    op.create_table(
        'relationship_ends',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.String(length=64), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_relationship_ends')),
        sa.UniqueConstraint('customer_id', name=op.f('uq_relationship_ends_customer_id')),
    )
    with op.batch_alter_table('verification_attempts') as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_verification_attempts_customer_id'), ['customer_id'], unique=False)
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.add_column(sa.Column('customer_id', sa.String(length=64), nullable=True))
    # As desk.verification ties them from now on: a succeeded check, and the failed ones of its conversation
    # that named the same phone or loan, belong to the conversation's customer. Anonymised checks stay untied.
    op.execute(sa.text(
        "UPDATE verification_attempts SET customer_id = (SELECT c.customer_id FROM conversations c "
        "WHERE c.public_id = verification_attempts.conversation_public_id) "
        "WHERE customer_id IS NULL AND phone_key <> 'anonymised' AND EXISTS (SELECT 1 FROM verification_attempts s "
        "WHERE s.conversation_public_id = verification_attempts.conversation_public_id AND s.succeeded "
        "AND (s.phone_key = verification_attempts.phone_key OR s.loan_key = verification_attempts.loan_key))"))


def downgrade() -> None:
    """Drop them again (the ties are lost; the checks then count from their own date, as before)."""
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.drop_column('customer_id')
    with op.batch_alter_table('verification_attempts') as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_attempts_customer_id'))
        batch_op.drop_column('customer_id')
    op.drop_table('relationship_ends')
