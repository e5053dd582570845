"""The human side: staff, the CS queue, the agent console, transcripts and supervision."""
