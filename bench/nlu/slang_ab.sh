#!/usr/bin/env bash
# A/B of the slang-normalising tokenizer: the same 80/20 split of the NLU
# data (fixed seed), trained and tested with bot/config.yml using the
# SlangNormalizingTokenizer and using Rasa's plain WhitespaceTokenizer. Prints macro-F1 of both.
# Run from bot/ with its venv: bash ../bench/nlu/slang_ab.sh
set -euo pipefail
RASA=${RASA:-.venv/bin/rasa}
PY=${PY:-.venv/bin/python}
out=${OUT:-results/slang-ab}
rm -rf "$out" && mkdir -p "$out"
"$RASA" data split nlu --nlu data/nlu.yml --training-fraction 0.8 --random-seed 42 --out "$out/split" >/dev/null
sed 's/- name: components.slang_tokenizer.SlangNormalizingTokenizer/- name: WhitespaceTokenizer/' config.yml > "$out/config-plain.yml"
sed 's/- name: WhitespaceTokenizer/- name: components.slang_tokenizer.SlangNormalizingTokenizer/' "$out/config-plain.yml" > "$out/config-slang.yml"
for variant in slang plain; do
  cfg="$out/config-$variant.yml"
  "$RASA" train nlu --config "$cfg" --nlu "$out/split/training_data.yml" --out "$out/models" \
    --fixed-model-name "$variant" >"$out/train-$variant.log" 2>&1
  "$RASA" test nlu --model "$out/models/$variant.tar.gz" --nlu "$out/split/test_data.yml" \
    --out "$out/$variant" >"$out/test-$variant.log" 2>&1
done
for variant in slang plain; do
  "$PY" - "$out/$variant/intent_report.json" "$variant" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:6} intent accuracy {r['accuracy']:.3f}  macro-F1 {r['macro avg']['f1-score']:.3f}")
PY
done
