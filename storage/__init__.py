"""Storage: the SQLAlchemy base, the database handle and the conversation store models."""
