# The human side: console browser tests, handoff benchmark.
.PHONY: browser-setup test-browser test-handoff bench-handoff

# Server where bench-handoff creates (and drops) its throw-away PostgreSQL database;
# when it is not reachable the table has the SQLite rows only.
BENCH_POSTGRES_URL ?= postgresql://127.0.0.1:5432/postgres

# Debian's Chromium for Playwright (never `playwright install`: no browser downloads).
browser-setup:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

test-handoff: desk-setup
	$(PY) -m pytest -q tests/handoff --db=sqlite
	$(PY) -m pytest -q tests/handoff --db=postgres

test-browser: desk-setup browser-setup
	mkdir -p artifacts/browser
	$(PY) -m pytest -q -m browser tests --db=sqlite

BENCH_HANDOFF_CONVERSATIONS ?= 100
bench-handoff: desk-setup
	$(PY) -m bench.handoff.latency --conversations $(BENCH_HANDOFF_CONVERSATIONS) --engines sqlite,postgresql \
		--postgres-url "$(BENCH_POSTGRES_URL)"
