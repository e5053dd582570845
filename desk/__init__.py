"""The desk service: the one process that owns channels, conversations, tickets and the queue."""
