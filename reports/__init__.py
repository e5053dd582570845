"""OJK and management complaint reports, and the supervisor dashboard."""
