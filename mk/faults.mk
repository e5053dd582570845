# The fault harness (issue 12): the desk as an operator runs it (PostgreSQL, `aduan serve --workers 2`,
# Redis, fake Rasa/Twilio/Telegram as real servers) while faults are injected; prints one table.
# About six minutes; see docs/core.md "Fault harness". Artifacts (logs, details.json) in artifacts/faults/.
.PHONY: test-faults

test-faults: desk-setup
	$(PY) -m pytest -q -m faults tests/faults -p no:cacheprovider
