# Channels (WhatsApp/Twilio, Telegram, in-app chat): tests, webhook registration, benchmark.
.PHONY: test-channels test-channels-sqlite test-channels-postgres telegram-webhook telegram-webhook-info bench-channels

test-channels: test-channels-sqlite test-channels-postgres

test-channels-sqlite: desk-setup
	$(PY) -m pytest -q -m "not browser" tests/channels --db=sqlite

test-channels-postgres: desk-setup
	$(PY) -m pytest -q -m "not browser" tests/channels --db=postgres

# Registers PUBLIC_BASE_URL/webhooks/telegram with TELEGRAM_SECRET_TOKEN (reads .env / the environment).
telegram-webhook: desk-setup
	$(PY) -m aduan.cli telegram-webhook

telegram-webhook-info: desk-setup
	$(PY) -m aduan.cli telegram-webhook --info

# Webhook latency per channel, outbox delivery rate, in-app push latency (127.0.0.1 only, bounded).
BENCH_CHANNELS_N ?= 300
BENCH_CHANNELS_CONCURRENCY ?= 20
bench-channels: desk-setup
	$(PY) -m bench.channels_webhooks --n $(BENCH_CHANNELS_N) --concurrency $(BENCH_CHANNELS_CONCURRENCY)
