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

test: setup
	$(MAKE) test-desk
	$(MAKE) bot-test
	$(MAKE) test-conversations
	$(MAKE) test-browser
	$(MAKE) test-faults
	$(MAKE) bench-smoke

bench: bench-nlu bench-desk bench-handoff bench-report
