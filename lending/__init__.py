"""The lending-core adapter: who a borrower is and what they owe (sample data by default)."""
