# Aduan: the two commands are `make run` and `make test` (see README.md).
# Each part of the product keeps its targets in mk/<part>.mk.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
PY311 := $(shell scripts/find-python 3.11)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup run test
help:
	@echo "make run    install everything, train the bot if needed, start Rasa, actions and the desk"
	@echo "make test   install everything and run every test"
	@echo "make setup  install everything, run nothing"

include $(sort $(wildcard mk/*.mk))

# The two commands. Targets named here are defined in mk/*.mk.
setup: desk-setup bot-setup browser-setup

run: desk-setup bot-setup bot-train
	scripts/run

# CI has two cores and 40 minutes. Run one after the other, the stages took
# 20 minutes on a fast day and 42 on a slow one, so stages that leave a core
# idle run beside others: the installs wait on the network; the fault drill
# mostly waits (a two-minute provider outage, then recovery: about 15 % of one
# core); the SQLite suite ends a minute before the PostgreSQL one, which is
# when the bot trains. Every test keeps its own database, ports and Redis
# prefix, so none sees another's data. --output-sync keeps each report whole.
test:
	$(MAKE) -j3 --output-sync=target setup
	$(MAKE) -j4 --output-sync=target test-desk-sqlite test-desk-postgres test-faults bot-train
	$(MAKE) -j2 --output-sync=target test-lane-bot test-lane-tools

.PHONY: test-lane-bot test-lane-tools
# The second half of `make test`: the bot's own tests, then the live conversation suite.
test-lane-bot:
	$(MAKE) bot-test
	$(MAKE) test-conversations

# Beside it: the browser tests, then every benchmark at a small size.
test-lane-tools:
	$(MAKE) test-browser
	$(MAKE) bench-smoke

bench: bench-nlu bench-desk bench-handoff bench-report
