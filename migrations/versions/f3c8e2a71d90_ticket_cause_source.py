"""ticket: where the complaint came from (OJK portal, LAPS SJK) and where it went public

Revision ID: f3c8e2a71d90
Revises: 112226c366b8
Create Date: 2026-11-30 10:15:00

Complaints forwarded by OJK's consumer portal (APPK) or LAPS SJK are
registered with the body's reference number and counted by source in the
reports; resolving or rejecting records the cause and, when the complaint
went public, a link to where.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = 'f3c8e2a71d90'
down_revision: Union[str, Sequence[str], None] = '112226c366b8'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        # Existing rows all came in directly; the server default fills them.
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='direct'))
        batch_op.add_column(sa.Column('external_reference', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('negative_publicity_url', sa.String(length=500), nullable=True))
        batch_op.create_unique_constraint('uq_tickets_source_external_reference', ['source', 'external_reference'])
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        # The model supplies the value from now on (and COPY in bench/report fills it).
        batch_op.alter_column('source', server_default=None)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint('uq_tickets_source_external_reference', type_='unique')
        batch_op.drop_column('negative_publicity_url')
        batch_op.drop_column('external_reference')
        batch_op.drop_column('source')
