# Tickets: complaint tickets, SLA clocks, scheduler.
.PHONY: test-tickets test-tickets-sqlite test-tickets-postgres tickets-tick tickets-days-off

test-tickets: test-tickets-sqlite test-tickets-postgres

test-tickets-sqlite: desk-setup
	$(PY) -m pytest -q tests/tickets --db=sqlite

test-tickets-postgres: desk-setup
	$(PY) -m pytest -q tests/tickets --db=postgres

# Raise due SLA alerts, borrower status updates and department reminders once.
tickets-tick: desk-setup
	$(VENV)/bin/aduan tickets-tick

# List a year's days off (YEAR=2027 make tickets-days-off) to check the calendar file.
tickets-days-off: desk-setup
	$(VENV)/bin/aduan tickets-days-off $(YEAR)
