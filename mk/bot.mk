# The Rasa assistant (bot/): Python 3.10 venv at bot/.venv.
# Targets: bot-setup bot-train bot-test bot-run nlu-eval nlu-eval-real bench-nlu (see docs/bot.md).

BOT        := $(ROOT)/bot
BOT_VENV   := $(BOT)/.venv
BOT_PY     := $(BOT_VENV)/bin/python
BOT_RASA   := $(BOT_VENV)/bin/rasa
BOT_STAMP  := $(BOT_VENV)/.aduan-installed
BOT_MODEL  := $(BOT)/models/aduan.tar.gz
BOT_INPUTS := $(BOT)/config.yml $(BOT)/domain.yml $(wildcard $(BOT)/data/*.yml $(BOT)/data/*/*.yml $(BOT)/components/*.py)
# Rasa imports our custom channel and NLU component from bot/.
BOT_ENV    := cd "$(BOT)" && export PYTHONPATH="$(BOT)" SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 &&
BOT_PORT   ?= 5005
BOT_ACTIONS_PORT ?= 5055

.PHONY: bot-setup bot-train bot-test bot-run bot-actions bot-server nlu-eval bench-nlu

bot-setup: $(BOT_STAMP)

# Rebuilt when the pins change or the venv is not a 3.10 one.
$(BOT_STAMP): $(BOT)/requirements.txt $(BOT)/requirements-dev.txt
	@if ! [ -x "$(BOT_PY)" ] || ! "$(BOT_PY)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  rm -rf "$(BOT_VENV)"; py=$$("$(ROOT)/scripts/find-python" 3.10) && "$$py" -m venv "$(BOT_VENV)"; fi
	"$(BOT_PY)" -m pip install -q --disable-pip-version-check "pip==24.0"
	"$(BOT_PY)" -m pip install -q --disable-pip-version-check -r "$(BOT)/requirements-dev.txt"
	@touch "$@"

# Trains only when data, domain, config or the custom component changed.
bot-train: $(BOT_MODEL)

$(BOT_MODEL): $(BOT_STAMP) $(BOT_INPUTS)
	$(BOT_ENV) "$(BOT_RASA)" train --fixed-model-name aduan --out models --augmentation 0
	@touch "$@"

# Data validation, Rasa test stories (fail on any wrong prediction), pytest of the actions.
bot-test: bot-train
	$(BOT_ENV) "$(BOT_RASA)" data validate --fail-on-warnings
	$(BOT_ENV) rm -rf results/core && "$(BOT_RASA)" test core --model models/aduan.tar.gz \
	  --stories tests/test_stories.yml --out results/core --fail-on-prediction-errors
	@$(BOT_ENV) if [ -s results/core/failed_test_stories.yml ] && grep -q "story:" results/core/failed_test_stories.yml; then \
	  echo "bot-test: failing test stories in bot/results/core/failed_test_stories.yml"; exit 1; fi
	$(BOT_ENV) "$(BOT_PY)" -m pytest -q tests/unit

# Foreground: action server on $(BOT_ACTIONS_PORT) in the background, Rasa on
# $(BOT_PORT) in the foreground; Ctrl-C (or SIGTERM) stops both.
bot-run: bot-train
	@$(BOT_ENV) set -m; "$(BOT_RASA)" run actions --actions actions --port $(BOT_ACTIONS_PORT) & act=$$!; \
	  trap 'kill $$act 2>/dev/null' EXIT INT TERM; \
	  "$(BOT_RASA)" run --model models/aduan.tar.gz --port $(BOT_PORT) --credentials credentials.yml \
	    --endpoints endpoints.yml --interface 127.0.0.1

bot-actions: bot-setup
	$(BOT_ENV) "$(BOT_RASA)" run actions --actions actions --port $(BOT_ACTIONS_PORT)

bot-server: bot-train
	$(BOT_ENV) "$(BOT_RASA)" run --model models/aduan.tar.gz --port $(BOT_PORT) --credentials credentials.yml \
	  --endpoints endpoints.yml --interface 127.0.0.1

# 5-fold cross-validation of the NLU data; prints accuracy and macro-F1 per intent.
# The folds are drawn with NLU_CV_SEED, so a run can be compared with the next
# (bench/nlu/seeded_rasa.py); try other seeds to see the spread.
NLU_CV_SEED ?= 0
nlu-eval: bot-setup
	$(BOT_ENV) rm -rf results/nlu-cv && "$(BOT_PY)" "$(ROOT)/bench/nlu/seeded_rasa.py" --seed $(NLU_CV_SEED) \
	  test nlu --cross-validation --folds 5 --config config.yml --nlu data --out results/nlu-cv
	$(BOT_ENV) "$(BOT_PY)" "$(ROOT)/bench/nlu/cv_report.py" results/nlu-cv/intent_report.json

# Intent accuracy and macro-F1 per intent of the trained model on the held-out
# real-text sets, beside the latest `make nlu-eval` figure; misclassified lines
# go to bot/results/nlu-real/<set>/errors.tsv. The sets are in the repository
# (licensed third-party text, held out from training by source file; sources.tsv
# and NOTICE.md beside them, rebuilt by bench/nlu/build_real_set.py):
# bot/eval/real_text/ (its errors were read while the training data was made) and
# bot/eval/real_text_holdout/ (drawn later, labelled without a model; read its
# figures, not its errors). NLU_REAL_SET scores other sets instead.
NLU_REAL_SET ?= $(BOT)/eval/real_text/real_text.yml $(BOT)/eval/real_text_holdout/real_text.yml
NLU_REAL_ARGS ?=
.PHONY: nlu-eval-real
nlu-eval-real: bot-train
	@set -e; for set in $(NLU_REAL_SET); do \
	  name=$$(basename "$$(dirname "$$set")"); \
	  ($(BOT_ENV) "$(BOT_PY)" "$(ROOT)/bench/nlu/real_text_eval.py" --model models/aduan.tar.gz \
	    --data "$$set" --out "results/nlu-real/$$name" --cv-report results/nlu-cv/intent_report.json $(NLU_REAL_ARGS)); \
	done

# The desk teaches the bot (issue #16): the borrower messages staff labelled in
# the agent console, personal data replaced by placeholders and de-duplicated,
# into bot/data/nlu_reviewed.yml for `rasa train` (DATABASE_URL as the desk's;
# review the diff before committing it).
.PHONY: nlu-export-reviewed
nlu-export-reviewed: desk-setup
	$(PY) -m aduan.cli nlu-export-reviewed --out "$(BOT)/data/nlu_reviewed.yml"

# Parse latency and throughput through the REST channel vs. an untouched `rasa init` bot.
# BENCH_NLU_ARGS passes options (bench-smoke: --no-baseline and a few messages).
BENCH_NLU_ARGS ?=
bench-nlu: bot-train
	$(BOT_ENV) "$(BOT_PY)" "$(ROOT)/bench/nlu/bench_nlu.py" --bot "$(BOT)" --rasa "$(BOT_RASA)" $(BENCH_NLU_ARGS)

# A/B of the slang-normalising tokenizer on a fixed 80/20 split (two trainings).
.PHONY: nlu-slang-ab
nlu-slang-ab: bot-setup
	$(BOT_ENV) bash "$(ROOT)/bench/nlu/slang_ab.sh"
