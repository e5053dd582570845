# The desk core (router, bot client, outbox, desk API): tests and the benchmark.
.PHONY: test-core bench-desk bench-desk-postgres

test-core: desk-setup
	$(PY) -m pytest -q tests/desk --db=sqlite
	$(PY) -m pytest -q tests/desk --db=postgres

# Bot-path overhead and human-path fan-out through the desk service; prints a table.
# BENCH_DESK_ARGS passes options (e.g. --db postgres --fake-rasa --human-n 2000).
bench-desk: desk-setup
	$(PY) bench/desk/bench_desk.py $(BENCH_DESK_ARGS)

bench-desk-postgres: desk-setup
	$(PY) bench/desk/bench_desk.py --db postgres $(BENCH_DESK_ARGS)

# The bot path with 1 and 2 Rasa replicas side by side (real model; docs/benchmarks.md).
# BENCH_SCALE_ARGS passes options (bench-smoke: --fake-rasa and a few messages).
BENCH_SCALE_ARGS ?=
bench-scale: desk-setup bot-train
	$(PY) bench/desk/bench_scale.py $(BENCH_SCALE_ARGS)
