"""pii at rest: phone numbers and channel addresses as keyed hashes plus ciphertexts

Revision ID: c7d2a9e4b815
Revises: b7e2d4c9a013
Create Date: 2026-11-30 14:30:00

Issue #18, item 7 ("least exposure"): ``conversations.sender``,
``outbox.recipient`` and ``tickets.phone`` held WhatsApp numbers, Telegram chat
ids and in-app customer ids in clear. They become a keyed hash for look-ups
(``sender_key``, ``phone_key``) and an AES-GCM ciphertext with its key id
(``sender_enc``, ``recipient_enc``, ``phone_enc``); see desk/pii.py. A message
text that holds a phone number, NIK or e-mail address is stored masked with
the original sealed in the new ``messages.text_enc`` (``desk.pii.seal_text``),
and a rights requester's contact is sealed whole (``requester_contact_enc``).

The conversion needs the PII keys (PII_KEYS / PII_KEY_FILE, or the demo key
file): it seals every existing row with the current key, and records that key
in the new ``pii_key_check`` table. Anonymised rows (``anon-<id>`` senders,
empty recipients) keep no ciphertext. The downgrade opens the ciphertexts
again with the same keys.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from desk import pii

revision: str = 'c7d2a9e4b815'
down_revision: Union[str, Sequence[str], None] = 'b7e2d4c9a013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The canary of aduan.pii_keys (copied: a migration must not change when the app does).
CANARY_KIND = "canary"
CANARY_TEXT = "aduan-pii-canary"


def upgrade() -> None:
    """Add the sealed columns, convert every row, drop the clear ones."""
    ring = pii.keyring()
    bind = op.get_bind()
    op.create_table(
        'pii_key_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('canary', sa.String(length=255), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pii_key_check')),
    )

    with op.batch_alter_table('conversations') as batch_op:
        batch_op.add_column(sa.Column('sender_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sender_enc', sa.String(length=255), nullable=True))
    rows = bind.execute(sa.text("SELECT id, channel, sender FROM conversations")).all()
    for id_, channel, sender in rows:
        if sender.startswith("anon-"):
            key, enc = sender, None
        else:
            key, enc = pii.sender_key(ring, channel, sender), ring.encrypt(pii.sender_kind(channel), sender)
        bind.execute(sa.text("UPDATE conversations SET sender_key = :k, sender_enc = :e WHERE id = :id"),
                     {"k": key, "e": enc, "id": id_})
    with op.batch_alter_table('conversations') as batch_op:
        batch_op.drop_constraint('uq_conversations_channel_sender', type_='unique')
        batch_op.drop_column('sender')
        batch_op.alter_column('sender_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_conversations_channel_sender_key'),
                                          ['channel', 'sender_key'])

    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(sa.Column('recipient_enc', sa.String(length=255), nullable=True))
    rows = bind.execute(sa.text("SELECT id, channel, recipient FROM outbox WHERE recipient <> ''")).all()
    for id_, channel, recipient in rows:
        bind.execute(sa.text("UPDATE outbox SET recipient_enc = :e WHERE id = :id"),
                     {"e": ring.encrypt(pii.sender_kind(channel), recipient), "id": id_})
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_column('recipient')

    with op.batch_alter_table('tickets') as batch_op:
        batch_op.add_column(sa.Column('phone_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('phone_enc', sa.String(length=255), nullable=True))
    rows = bind.execute(sa.text("SELECT id, phone FROM tickets WHERE phone IS NOT NULL AND phone <> ''")).all()
    for id_, phone in rows:
        bind.execute(sa.text("UPDATE tickets SET phone_key = :k, phone_enc = :e WHERE id = :id"),
                     {"k": pii.phone_key(ring, phone), "e": ring.encrypt(pii.PHONE, phone), "id": id_})
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_phone'))
        batch_op.drop_column('phone')
        batch_op.create_index(batch_op.f('ix_tickets_phone_key'), ['phone_key'], unique=False)

    with op.batch_alter_table('messages') as batch_op:
        batch_op.add_column(sa.Column('text_enc', sa.Text(), nullable=True))
    for id_, body in bind.execute(sa.text("SELECT id, text FROM messages WHERE text <> ''")).all():
        stored, sealed = pii.seal_text(body)
        if sealed is not None:
            bind.execute(sa.text("UPDATE messages SET text = :t, text_enc = :e WHERE id = :id"),
                         {"t": stored, "e": sealed, "id": id_})

    with op.batch_alter_table('rights_requests') as batch_op:
        batch_op.add_column(sa.Column('requester_contact_enc', sa.String(length=512), nullable=True))
    for id_, contact in bind.execute(sa.text(
            "SELECT id, requester_contact FROM rights_requests WHERE requester_contact <> ''")).all():
        shown, sealed = pii.seal_value(pii.CONTACT, contact)
        bind.execute(sa.text("UPDATE rights_requests SET requester_contact = :s, requester_contact_enc = :e "
                             "WHERE id = :id"), {"s": shown, "e": sealed, "id": id_})

    bind.execute(sa.text("INSERT INTO pii_key_check (key_id, canary, updated_at) VALUES (:k, :c, CURRENT_TIMESTAMP)"),
                 {"k": ring.current_id, "c": ring.encrypt(CANARY_KIND, CANARY_TEXT)})


def downgrade() -> None:
    """Put the clear values back (opened with the configured keys) and drop the sealed columns."""
    ring = pii.keyring()
    bind = op.get_bind()

    for id_, sealed in bind.execute(sa.text(
            "SELECT id, requester_contact_enc FROM rights_requests WHERE requester_contact_enc IS NOT NULL")).all():
        bind.execute(sa.text("UPDATE rights_requests SET requester_contact = :c WHERE id = :id"),
                     {"c": ring.decrypt(pii.CONTACT, sealed), "id": id_})
    with op.batch_alter_table('rights_requests') as batch_op:
        batch_op.drop_column('requester_contact_enc')

    for id_, sealed in bind.execute(sa.text("SELECT id, text_enc FROM messages WHERE text_enc IS NOT NULL")).all():
        bind.execute(sa.text("UPDATE messages SET text = :t WHERE id = :id"),
                     {"t": ring.decrypt(pii.MESSAGE, sealed), "id": id_})
    with op.batch_alter_table('messages') as batch_op:
        batch_op.drop_column('text_enc')

    with op.batch_alter_table('tickets') as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
    for id_, enc in bind.execute(sa.text("SELECT id, phone_enc FROM tickets WHERE phone_enc IS NOT NULL")).all():
        bind.execute(sa.text("UPDATE tickets SET phone = :p WHERE id = :id"),
                     {"p": ring.decrypt(pii.PHONE, enc), "id": id_})
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_phone_key'))
        batch_op.drop_column('phone_enc')
        batch_op.drop_column('phone_key')
        batch_op.create_index(batch_op.f('ix_tickets_phone'), ['phone'], unique=False)

    with op.batch_alter_table('outbox') as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=64), nullable=False, server_default=''))
    for id_, channel, enc in bind.execute(sa.text(
            "SELECT id, channel, recipient_enc FROM outbox WHERE recipient_enc IS NOT NULL")).all():
        bind.execute(sa.text("UPDATE outbox SET recipient = :r WHERE id = :id"),
                     {"r": ring.decrypt(pii.sender_kind(channel), enc), "id": id_})
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_column('recipient_enc')
        batch_op.alter_column('recipient', existing_type=sa.String(length=64), server_default=None)

    with op.batch_alter_table('conversations') as batch_op:
        batch_op.add_column(sa.Column('sender', sa.String(length=64), nullable=True))
    for id_, channel, key, enc in bind.execute(sa.text(
            "SELECT id, channel, sender_key, sender_enc FROM conversations")).all():
        bind.execute(sa.text("UPDATE conversations SET sender = :s WHERE id = :id"),
                     {"s": ring.decrypt(pii.sender_kind(channel), enc) if enc else key, "id": id_})
    with op.batch_alter_table('conversations') as batch_op:
        batch_op.drop_constraint('uq_conversations_channel_sender_key', type_='unique')
        batch_op.drop_column('sender_enc')
        batch_op.drop_column('sender_key')
        batch_op.alter_column('sender', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_conversations_channel_sender'), ['channel', 'sender'])

    op.drop_table('pii_key_check')
