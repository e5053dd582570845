"""free text sealed: chronologies, notes, summaries, ticket history, e-mail and ID-card address

Revision ID: e9c4a7d1f260
Revises: d9e3b6a1f274
Create Date: 2026-11-30 17:30:00

Issue #18, item 7 ("least exposure"), second part. c7d2a9e4b815 sealed the
phone and address columns and message texts; a phone number or NIK typed into
a ticket's chronology, an agent's note, the bot's handoff summary, a closing
summary, a rating comment or the ticket history was still in clear, and so
were ``tickets.email`` and ``tickets.id_card_address``. Each of those columns
gets a ``…_enc`` column (storage.sealed): free text and JSON keep their value
with phone numbers, NIK and e-mail addresses masked and the original sealed
when masking changed something; the e-mail keeps only its masked form and the
ID-card address nothing, both always sealed.

Like c7d2a9e4b815 it needs the PII keys (PII_KEYS / PII_KEY_FILE, or the demo
key file): existing rows are sealed with the current key. The downgrade opens
them again with the same keys.
"""
import json
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op

from desk import pii

revision: str = 'e9c4a7d1f260'
down_revision: Union[str, Sequence[str], None] = 'd9e3b6a1f274'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (table, column, mode, type of the …_enc column). The kind bound to each ciphertext is
# "<table>.<column>" (storage.sealed.SealedColumn.kind), written out here: a migration must not
# change when the app does.
COLUMNS: tuple[tuple[str, str, str, Any], ...] = (
    ('tickets', 'chronology', 'text', sa.Text()),
    ('tickets', 'email', 'value', sa.String(length=512)),
    ('tickets', 'id_card_address', 'hidden', sa.Text()),
    ('tickets', 'outcome', 'json', sa.Text()),
    ('ticket_events', 'data', 'json', sa.Text()),
    ('notes', 'text', 'text', sa.Text()),
    ('handoffs', 'summary', 'json', sa.Text()),
    ('handoffs', 'closing_summary', 'text', sa.Text()),
    ('handoffs', 'rating_comment', 'text', sa.Text()),
)


def _table(name: str, column: str, mode: str) -> sa.TableClause:
    value_type = sa.JSON() if mode == 'json' else sa.Text()
    return sa.table(name, sa.column('id', sa.Integer()), sa.column(column, value_type),
                    sa.column(f'{column}_enc', sa.Text()))


def _seal(kind: str, mode: str, value: Any) -> tuple[Any, str | None]:
    if mode == 'json':
        return pii.seal_json(value, kind)
    if mode == 'value':
        return pii.seal_value(kind, value)
    if mode == 'hidden':
        return '', pii.keyring().encrypt(kind, value)
    return pii.seal_text(value, kind)


def upgrade() -> None:
    """Add the sealed columns and seal every existing value that needs it."""
    bind = op.get_bind()
    for name, column, mode, enc_type in COLUMNS:
        with op.batch_alter_table(name) as batch_op:
            batch_op.add_column(sa.Column(f'{column}_enc', enc_type, nullable=True))
        table = _table(name, column, mode)
        kind = f'{name}.{column}'
        for id_, value in bind.execute(sa.select(table.c.id, table.c[column])).all():
            if not value:
                continue
            stored, sealed = _seal(kind, mode, value)
            if sealed is not None:
                bind.execute(table.update().where(table.c.id == id_)
                             .values({column: stored, f'{column}_enc': sealed}))


def downgrade() -> None:
    """Put the originals back (opened with the configured keys) and drop the sealed columns."""
    ring = pii.keyring()
    bind = op.get_bind()
    for name, column, mode, _ in reversed(COLUMNS):
        table = _table(name, column, mode)
        kind = f'{name}.{column}'
        enc = table.c[f'{column}_enc']
        for id_, sealed in bind.execute(sa.select(table.c.id, enc).where(enc.is_not(None))).all():
            clear = ring.decrypt(kind, sealed)
            bind.execute(table.update().where(table.c.id == id_)
                         .values({column: json.loads(clear) if mode == 'json' else clear}))
        with op.batch_alter_table(name) as batch_op:
            batch_op.drop_column(f'{column}_enc')
