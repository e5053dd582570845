# The live-stack conversation suite and the dialogue fuzzer (tests/live; docs/conversations.md).
# Both start the trained model, Rasa, the action server and the desk on free
# loopback ports, with fakes of the Twilio and Telegram HTTP APIs; logs and the
# fuzzer's report land in artifacts/.
.PHONY: test-conversations fuzz-dialogue

FUZZ_SEED ?= 11
# The seeded slice CI runs inside test-conversations.
FUZZ_CI_N ?= 200
FUZZ_WORKERS ?= 3

test-conversations: desk-setup bot-train
	mkdir -p artifacts/live
	FUZZ_N=$(FUZZ_CI_N) FUZZ_SEED=$(FUZZ_SEED) FUZZ_WORKERS=$(FUZZ_WORKERS) \
	  $(PY) -m pytest -q --live tests/live

# make fuzz-dialogue [FUZZ_N=1000] [FUZZ_SEED=11] [FUZZ_ONLY=<index> to replay one conversation]
fuzz-dialogue: FUZZ_N ?= 1000
fuzz-dialogue: desk-setup bot-train
	mkdir -p artifacts/live
	FUZZ_N=$(FUZZ_N) FUZZ_SEED=$(FUZZ_SEED) FUZZ_WORKERS=$(FUZZ_WORKERS) FUZZ_ONLY=$(FUZZ_ONLY) \
	  $(PY) -m pytest -q --live tests/live/test_fuzz.py
