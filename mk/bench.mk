# Every benchmark at a small size: fails when one cannot print its table (bench/smoke.py, docs/benchmarks.md).
.PHONY: bench-smoke

bench-smoke: desk-setup bot-train
	$(PY) -m bench.smoke
