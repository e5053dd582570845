# The desk service (Python 3.11): install, test, run.
DESK_STAMP := $(VENV)/.installed
.PHONY: desk-setup test-desk test-desk-sqlite test-desk-postgres

$(DESK_STAMP): pyproject.toml
	test -x $(PY) || $(PY311) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

desk-setup: $(DESK_STAMP)

# The two engines' suites are independent (each PostgreSQL session makes its own
# throw-away database, each SQLite test its own file), so they run side by side
# on CI's two cores instead of one after the other (the desk stage was 15 of
# CI's 35 minutes). --output-sync keeps each suite's report in one piece.
test-desk: desk-setup
	$(MAKE) -j2 --output-sync=target test-desk-sqlite test-desk-postgres

test-desk-sqlite: desk-setup
	$(PY) -m pytest -q -m "not browser and not faults" --db=sqlite

test-desk-postgres: desk-setup
	$(PY) -m pytest -q -m "not browser and not faults" --db=postgres
