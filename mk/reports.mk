# Complaint reports for OJK and the supervisor dashboard (docs/reports.md).
.PHONY: report bench-report load-synthetic test-reports

PERIOD ?=
OUT ?= $(ROOT)/var/reports
FORMAT ?= xlsx,csv,html

# make report PERIOD=2026-10 (month) | PERIOD=2026-Q3 (quarter) | PERIOD=2022 (year) [OUT=dir] [FORMAT=xlsx,csv]
report: desk-setup
	@test -n "$(PERIOD)" || { echo "usage: make report PERIOD=2026-10|2026-Q3|2022 [OUT=dir]"; exit 2; }
	$(VENV)/bin/aduan report --period "$(PERIOD)" --out "$(OUT)" --format "$(FORMAT)"

# One year of synthetic complaints with the published 2022 distribution, into DATABASE_URL.
load-synthetic: desk-setup
	$(VENV)/bin/aduan load-synthetic --year $(or $(YEAR),2022)

# One million tickets in a throw-away PostgreSQL database; prints a timing table.
BENCH_REPORT_RUNS ?= 5
bench-report: desk-setup
	$(PY) -m bench.report.bench_report --rows $(or $(ROWS),1000000) --runs $(BENCH_REPORT_RUNS)

test-reports: desk-setup
	$(PY) -m pytest -q tests/reports --db=sqlite
	$(PY) -m pytest -q tests/reports --db=postgres
