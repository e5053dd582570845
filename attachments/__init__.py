"""Attachments: files borrowers and agents send, fetched, checked, stored and served (docs/channels.md)."""
