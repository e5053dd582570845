# The desk service (Python 3.11): install, test, run.
DESK_STAMP := $(VENV)/.installed
.PHONY: desk-setup test-desk test-desk-sqlite test-desk-postgres

$(DESK_STAMP): pyproject.toml
	test -x $(PY) || $(PY311) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

desk-setup: $(DESK_STAMP)

test-desk: test-desk-sqlite test-desk-postgres

test-desk-sqlite: desk-setup
	$(PY) -m pytest -q -m "not browser and not faults" --db=sqlite

test-desk-postgres: desk-setup
	$(PY) -m pytest -q -m "not browser and not faults" --db=postgres
